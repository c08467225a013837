package chart_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/tars-ops/tarsctl/internal/config"
	tarschart "github.com/tars-ops/tarsctl/internal/deploy/chart"
	"github.com/tars-ops/tarsctl/internal/services"
)

// Test-only daemons nothing but the catalog knows: a consensus member
// (StatefulSet, peer port, no autoscaling) and a plain autoscaled one.
var (
	syntheticQuorum = services.Entry{Name: "synthetic-quorum", APIPort: 18951, PeerPort: 18952, Kind: services.StatefulSet,
		DependsOn: []string{services.HyperSync}}
	syntheticWorker = services.Entry{Name: "synthetic-worker", APIPort: 18953, Kind: services.Deployment, Autoscale: true}
)

// workloadProblems says how the rendered chart falls short of what e's
// catalog entry asks for: its workload of the right kind running `serve
// NAME` on its ports, its Service (and headless Service for a
// StatefulSet), an HPA exactly when it autoscales, its PDB and
// NetworkPolicy. nil when nothing is missing.
func workloadProblems(r rendered, e services.Entry) []string {
	var p []string
	w, ok := r.find(string(e.Kind), e.Name)
	if !ok {
		return []string{fmt.Sprintf("no %s %q (rendered: %v)", e.Kind, e.Name, r.names())}
	}
	c := get(w.Doc, "spec", "template", "spec", "containers", 0)
	if !reflect.DeepEqual(get(c, "args"), []any{"serve", e.Name}) {
		p = append(p, fmt.Sprintf("args %v", get(c, "args")))
	}
	wantPorts := []any{map[string]any{"name": "http", "containerPort": float64(e.APIPort), "protocol": "TCP"}}
	if e.PeerPort != 0 {
		wantPorts = append(wantPorts, map[string]any{"name": "peer", "containerPort": float64(e.PeerPort), "protocol": "TCP"})
	}
	if !reflect.DeepEqual(get(c, "ports"), wantPorts) {
		p = append(p, fmt.Sprintf("container ports %v, want %v", get(c, "ports"), wantPorts))
	}
	svc, ok := r.find("Service", e.Name)
	if !ok || num(svc.Doc, "spec", "ports", 0, "port") != float64(e.APIPort) {
		p = append(p, "no Service on its port")
	}
	if e.Kind == services.StatefulSet {
		headless := e.Name + "-headless"
		h, ok := r.find("Service", headless)
		if !ok || str(h.Doc, "spec", "clusterIP") != "None" || get(h.Doc, "spec", "publishNotReadyAddresses") != true {
			p = append(p, "no headless Service "+headless)
		}
		if str(w.Doc, "spec", "serviceName") != headless {
			p = append(p, "serviceName "+str(w.Doc, "spec", "serviceName"))
		}
		if !slices.ContainsFunc(asList(get(c, "env")), func(v any) bool { return str(v, "name") == "POD_NAME" }) {
			p = append(p, "no POD_NAME")
		}
	}
	if e.PeerPort != 0 && num(svc.Doc, "spec", "ports", 1, "port") != float64(e.PeerPort) {
		p = append(p, fmt.Sprintf("Service ports %v lack the peer port", get(svc.Doc, "spec", "ports")))
	}
	hpa, hasHPA := r.find("HorizontalPodAutoscaler", e.Name)
	if hasHPA != e.Autoscale {
		p = append(p, fmt.Sprintf("HPA rendered: %v, autoscale: %v", hasHPA, e.Autoscale))
	} else if hasHPA && str(hpa.Doc, "spec", "scaleTargetRef", "kind") != string(e.Kind) {
		p = append(p, "HPA targets a "+str(hpa.Doc, "spec", "scaleTargetRef", "kind"))
	}
	if _, ok := r.find("PodDisruptionBudget", e.Name); !ok {
		p = append(p, "no PodDisruptionBudget")
	}
	np, ok := r.find("NetworkPolicy", e.Name)
	if !ok {
		p = append(p, "no NetworkPolicy")
	} else if e.PeerPort != 0 && get(np.Doc, "spec", "ingress", 0, "ports", 1, "port") != "peer" {
		p = append(p, fmt.Sprintf("NetworkPolicy does not admit the peers: %v", get(np.Doc, "spec", "ingress", 0, "ports")))
	}
	return p
}

// Entries registered in the catalog, and nowhere else, get their
// workloads: the chart lists the daemons only through the catalog. Not
// parallel: it changes the catalog for the package.
func TestChartRendersCatalogEntries(t *testing.T) {
	t.Run("registered", func(t *testing.T) {
		services.TestOnlyRegister(t, syntheticQuorum)
		services.TestOnlyRegister(t, syntheticWorker)
		r := render(t, profileVals(t, "production"))
		for _, e := range services.All() {
			if p := workloadProblems(r, e); p != nil {
				t.Errorf("%s: %v", e.Name, p)
			}
		}
		// Every profile's values run them, on their ports.
		for _, profile := range profiles {
			r := render(t, profileVals(t, profile))
			for _, e := range []services.Entry{syntheticQuorum, syntheticWorker} {
				if _, ok := r.find(string(e.Kind), e.Name); !ok {
					t.Errorf("%s: no %s %s", profile, e.Kind, e.Name)
				}
			}
		}
		// With persistence each member of the StatefulSet claims its own
		// volume; the Deployments share a PVC per daemon.
		r = render(t, profileVals(t, "production", map[string]any{"persistence": map[string]any{"enabled": true}}))
		sts := r.must(t, "StatefulSet", syntheticQuorum.Name)
		if get(sts, "spec", "volumeClaimTemplates", 0, "metadata", "name") != "data" {
			t.Errorf("StatefulSet volumeClaimTemplates = %v", get(sts, "spec", "volumeClaimTemplates"))
		}
		for _, v := range asList(get(sts, "spec", "template", "spec", "volumes")) {
			if str(v, "name") == "data" {
				t.Errorf("StatefulSet pods list a data volume %v beside the claim template", v)
			}
		}
		if _, ok := r.find("PersistentVolumeClaim", syntheticQuorum.Name+"-data"); ok {
			t.Error("a PVC was rendered for the StatefulSet")
		}
		if _, ok := r.find("PersistentVolumeClaim", syntheticWorker.Name+"-data"); !ok {
			t.Error("no PVC for the synthetic Deployment")
		}
		// values.yaml carries their blocks, as `helm show values` shows.
		c := loadChart(t)
		if got := get(c.Values, tarschart.ValuesKey(syntheticQuorum.Name), "peerPort"); got != float64(syntheticQuorum.PeerPort) {
			t.Errorf("values.yaml %s.peerPort = %v", tarschart.ValuesKey(syntheticQuorum.Name), got)
		}
		// They have no configuration section: the ConfigMap names none.
		cfg := configOf(t, r)
		for k := range get(cfg, "services").(map[string]any) {
			if !slices.Contains(config.ServiceSectionKeys(), k) {
				t.Errorf("ConfigMap has services.%s", k)
			}
		}
	})
	// The check is not vacuous: a chart rendered without the entries (what
	// a hard-coded list of daemons gives) fails it.
	t.Run("planted: rendered without the entries", func(t *testing.T) {
		r := render(t, profileVals(t, "production"))
		for _, e := range []services.Entry{syntheticQuorum, syntheticWorker} {
			if p := workloadProblems(r, e); len(p) == 0 {
				t.Errorf("%s: the check passed on a chart without it", e.Name)
			}
		}
	})
}
