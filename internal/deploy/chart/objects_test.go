package chart_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	tarschart "github.com/tars-ops/tarsctl/internal/deploy/chart"
	"github.com/tars-ops/tarsctl/internal/testenv/golden"
)

// typedObjects are the kinds the chart renders, as the API types.
var typedObjects = map[string]func() any{
	"Deployment":              func() any { return new(appsv1.Deployment) },
	"Service":                 func() any { return new(corev1.Service) },
	"ConfigMap":               func() any { return new(corev1.ConfigMap) },
	"Secret":                  func() any { return new(corev1.Secret) },
	"ServiceAccount":          func() any { return new(corev1.ServiceAccount) },
	"PersistentVolumeClaim":   func() any { return new(corev1.PersistentVolumeClaim) },
	"HorizontalPodAutoscaler": func() any { return new(autoscalingv2.HorizontalPodAutoscaler) },
	"PodDisruptionBudget":     func() any { return new(policyv1.PodDisruptionBudget) },
	"NetworkPolicy":           func() any { return new(networkingv1.NetworkPolicy) },
	"Ingress":                 func() any { return new(networkingv1.Ingress) },
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Every object of every profile has apiVersion, kind and a valid name, and
// uses only API versions a 1.30+ cluster serves.
func TestEveryObjectIsWellFormed(t *testing.T) {
	t.Parallel()
	served := map[string]bool{
		"v1": true, "apps/v1": true, "autoscaling/v2": true, "policy/v1": true, "networking.k8s.io/v1": true,
	}
	for _, p := range profiles {
		for _, vault := range []bool{false, true} {
			r := render(t, profileVals(t, p, map[string]any{
				"vault":       map[string]any{"enabled": vault},
				"persistence": map[string]any{"enabled": vault}, // PVCs too
				"secrets":     map[string]any{"jwt": map[string]any{"value": "x"}, "rsa": map[string]any{"privateKeyValue": "k"}},
			}))
			if len(r.Objects) == 0 {
				t.Fatalf("%s: nothing rendered", p)
			}
			seen := map[string]bool{}
			for _, o := range r.Objects {
				av, kind, name := str(o.Doc, "apiVersion"), o.kind(), o.name()
				if av == "" || kind == "" || name == "" {
					t.Errorf("%s %s: object without apiVersion/kind/metadata.name:\n%s", p, o.Template, yamlString(t, o.Doc))
					continue
				}
				if !served[av] {
					t.Errorf("%s: %s/%s uses apiVersion %s", p, kind, name, av)
				}
				if len(name) > 63 || !dnsLabel.MatchString(name) {
					t.Errorf("%s: %s name %q is not a DNS label", p, kind, name)
				}
				if seen[kind+"/"+name] {
					t.Errorf("%s: %s/%s rendered twice", p, kind, name)
				}
				seen[kind+"/"+name] = true
				// Every field is one the Kubernetes API knows.
				typed, ok := typedObjects[kind]
				if !ok {
					t.Errorf("%s: unexpected kind %s", p, kind)
				} else if err := yaml.UnmarshalStrict([]byte(yamlString(t, o.Doc)), typed()); err != nil {
					t.Errorf("%s: %s/%s does not decode as %s: %v", p, kind, name, av, err)
				}
				labels, _ := get(o.Doc, "metadata", "labels").(map[string]any)
				if labels["app.kubernetes.io/part-of"] != "tars" || labels["app.kubernetes.io/instance"] != "tars" {
					t.Errorf("%s: %s/%s labels %v", p, kind, name, labels)
				}
				if ns := get(o.Doc, "metadata", "namespace"); ns != nil {
					t.Errorf("%s: %s/%s hard-codes namespace %v", p, kind, name, ns)
				}
			}
			if !strings.Contains(r.Files["tars/templates/NOTES.txt"], "release tars in namespace tars-prod") {
				t.Errorf("%s: NOTES.txt:\n%s", p, r.Files["tars/templates/NOTES.txt"])
			}
		}
	}
}

func container(t *testing.T, dep map[string]any) map[string]any {
	t.Helper()
	c, ok := get(dep, "spec", "template", "spec", "containers", 0).(map[string]any)
	if !ok {
		t.Fatalf("no container in %s", yamlString(t, dep))
	}
	return c
}

func TestProbesAreTheRunbooks(t *testing.T) {
	t.Parallel()
	want := map[string]map[string]any{
		"livenessProbe":  {"path": "/health", "initialDelaySeconds": 30.0, "periodSeconds": 10.0, "timeoutSeconds": 5.0, "failureThreshold": 3.0},
		"readinessProbe": {"path": "/ready", "initialDelaySeconds": 15.0, "periodSeconds": 5.0, "timeoutSeconds": 3.0, "failureThreshold": 2.0},
	}
	for _, p := range profiles {
		r := render(t, profileVals(t, p))
		for _, d := range r.ofKind("Deployment") {
			c := container(t, d.Doc)
			for probe, w := range want {
				pr := c[probe]
				if get(pr, "httpGet", "path") != w["path"] || get(pr, "httpGet", "port") != "http" {
					t.Errorf("%s %s %s httpGet = %v", p, d.name(), probe, get(pr, "httpGet"))
				}
				for k, v := range w {
					if k != "path" && get(pr, k) != v {
						t.Errorf("%s %s %s.%s = %v, want %v", p, d.name(), probe, k, get(pr, k), v)
					}
				}
			}
			if get(c, "ports", 0, "name") != "http" {
				t.Errorf("%s %s: port name %v", p, d.name(), get(c, "ports", 0, "name"))
			}
		}
	}
}

func TestHPA(t *testing.T) {
	t.Parallel()
	r := render(t, profileVals(t, "production"))
	hpas := r.ofKind("HorizontalPodAutoscaler")
	if len(hpas) != len(r.ofKind("Deployment")) {
		t.Fatalf("HPAs:\n%s", dump(hpas))
	}
	for _, h := range hpas {
		d := h.Doc
		if str(d, "apiVersion") != "autoscaling/v2" {
			t.Errorf("%s apiVersion %s", h.name(), str(d, "apiVersion"))
		}
		if num(d, "spec", "minReplicas") != 2 || num(d, "spec", "maxReplicas") != 10 {
			t.Errorf("%s bounds %v..%v", h.name(), get(d, "spec", "minReplicas"), get(d, "spec", "maxReplicas"))
		}
		ref := get(d, "spec", "scaleTargetRef")
		if !reflect.DeepEqual(ref, map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": h.name()}) {
			t.Errorf("%s scaleTargetRef %v", h.name(), ref)
		}
		got := map[string]float64{}
		for i := range 2 {
			m := get(d, "spec", "metrics", i)
			if get(m, "type") != "Resource" || get(m, "resource", "target", "type") != "Utilization" {
				t.Errorf("%s metric %d: %v", h.name(), i, m)
			}
			got[str(m, "resource", "name")] = num(m, "resource", "target", "averageUtilization")
		}
		if !reflect.DeepEqual(got, map[string]float64{"cpu": 70, "memory": 80}) {
			t.Errorf("%s metrics %v, want cpu 70%% memory 80%%", h.name(), got)
		}
	}

	// Per-daemon overrides, and off.
	r = render(t, profileVals(t, "production", map[string]any{
		"hypersync":    map[string]any{"autoscaling": map[string]any{"maxReplicas": 4}},
		"dashboardApi": map[string]any{"autoscaling": map[string]any{"enabled": false}},
	}))
	if _, ok := r.find("HorizontalPodAutoscaler", "dashboard-api"); ok {
		t.Error("dashboardApi.autoscaling.enabled=false still renders an HPA")
	}
	if h := r.must(t, "HorizontalPodAutoscaler", "hypersync"); num(h, "spec", "maxReplicas") != 4 || num(h, "spec", "minReplicas") != 2 {
		t.Errorf("hypersync override: %v", get(h, "spec"))
	}
	for _, p := range []string{"local", "docker"} {
		if h := render(t, profileVals(t, p)).ofKind("HorizontalPodAutoscaler"); len(h) != 0 {
			t.Errorf("%s renders HPAs:\n%s", p, dump(h))
		}
	}
}

func TestReplicas(t *testing.T) {
	t.Parallel()
	r := render(t, profileVals(t, "production", map[string]any{"dashboardApi": map[string]any{"replicas": 5}, "hypersync": map[string]any{"replicas": 0}}))
	for name, want := range map[string]float64{"dashboard-api": 5, "orchestration-agent": 3, "hypersync": 0} {
		if got := num(r.must(t, "Deployment", name), "spec", "replicas"); got != want {
			t.Errorf("%s replicas %v, want %v", name, got, want)
		}
	}
	r = render(t, profileVals(t, "local"))
	for _, d := range r.ofKind("Deployment") {
		if num(d.Doc, "spec", "replicas") != 1 {
			t.Errorf("local %s replicas %v", d.name(), get(d.Doc, "spec", "replicas"))
		}
	}
	r = render(t, profileVals(t, "production", map[string]any{"orchestrationAgent": map[string]any{"enabled": false}}))
	for _, kind := range []string{"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"} {
		if _, ok := r.find(kind, "orchestration-agent"); ok {
			t.Errorf("orchestrationAgent.enabled=false still renders %s", kind)
		}
	}
}

func TestPDB(t *testing.T) {
	t.Parallel()
	for _, p := range profiles {
		r := render(t, profileVals(t, p))
		pdbs := r.ofKind("PodDisruptionBudget")
		if p == "local" || p == "docker" {
			if len(pdbs) != 0 {
				t.Errorf("%s (one replica) renders PDBs that would block every drain:\n%s", p, dump(pdbs))
			}
			continue
		}
		if len(pdbs) != len(r.ofKind("Deployment")) {
			t.Fatalf("%s PDBs:\n%s", p, dump(pdbs))
		}
		for _, o := range pdbs {
			dep := r.must(t, "Deployment", o.name())
			if str(o.Doc, "apiVersion") != "policy/v1" || num(o.Doc, "spec", "minAvailable") != 1 {
				t.Errorf("%s PDB %s: %v", p, o.name(), get(o.Doc, "spec"))
			}
			if !reflect.DeepEqual(get(o.Doc, "spec", "selector", "matchLabels"), get(dep, "spec", "selector", "matchLabels")) {
				t.Errorf("%s PDB %s selects %v", p, o.name(), get(o.Doc, "spec", "selector"))
			}
		}
	}
	r := render(t, profileVals(t, "production", map[string]any{"podDisruptionBudget": map[string]any{"maxUnavailable": "25%"}}))
	if pdb := r.must(t, "PodDisruptionBudget", "hypersync"); get(pdb, "spec", "maxUnavailable") != "25%" || get(pdb, "spec", "minAvailable") != nil {
		t.Errorf("maxUnavailable: %v", get(pdb, "spec"))
	}
}

func TestSecurityContext(t *testing.T) {
	t.Parallel()
	for _, p := range profiles {
		r := render(t, profileVals(t, p))
		for _, d := range r.ofKind("Deployment") {
			pod := get(d.Doc, "spec", "template", "spec")
			if get(pod, "securityContext", "runAsNonRoot") != true || num(pod, "securityContext", "runAsUser") < 1 ||
				get(pod, "securityContext", "seccompProfile", "type") != "RuntimeDefault" {
				t.Errorf("%s %s pod securityContext %v", p, d.name(), get(pod, "securityContext"))
			}
			if get(pod, "automountServiceAccountToken") != false {
				t.Errorf("%s %s mounts a service account token without Vault", p, d.name())
			}
			if get(pod, "serviceAccountName") != "tars" {
				t.Errorf("%s %s serviceAccountName %v", p, d.name(), get(pod, "serviceAccountName"))
			}
			c := container(t, d.Doc)
			sc := c["securityContext"]
			if get(sc, "readOnlyRootFilesystem") != true || get(sc, "runAsNonRoot") != true ||
				get(sc, "allowPrivilegeEscalation") != false || !reflect.DeepEqual(get(sc, "capabilities", "drop"), []any{"ALL"}) ||
				get(sc, "seccompProfile", "type") != "RuntimeDefault" || get(sc, "capabilities", "add") != nil {
				t.Errorf("%s %s container securityContext %v", p, d.name(), sc)
			}
			// The root filesystem is read-only: the home (data dir) and /tmp
			// are writable volumes.
			mounts := map[string]string{}
			for _, m := range get(c, "volumeMounts").([]any) {
				mounts[str(m, "mountPath")] = str(m, "name")
			}
			vols := map[string]any{}
			for _, v := range get(pod, "volumes").([]any) {
				vols[str(v, "name")] = v
			}
			for _, path := range []string{"/var/lib/tars", "/tmp"} {
				v := vols[mounts[path]]
				if v == nil || (get(v, "emptyDir") == nil && get(v, "persistentVolumeClaim") == nil) {
					t.Errorf("%s %s: %s is not a writable volume (%v)", p, d.name(), path, v)
				}
			}
			if get(vols[mounts["/etc/tars"]], "configMap", "name") != "tars-config" {
				t.Errorf("%s %s: config not mounted from tars-config: %v", p, d.name(), mounts)
			}
			res := c["resources"]
			if get(res, "requests", "cpu") == nil || get(res, "limits", "memory") == nil {
				t.Errorf("%s %s resources %v", p, d.name(), res)
			}
			env := map[string]string{}
			for _, e := range get(c, "env").([]any) {
				env[str(e, "name")] = str(e, "value")
			}
			if env["TARS_PROFILE"] != p || env["TARS_CONFIG"] != "/etc/tars/config.yaml" {
				t.Errorf("%s %s env %v", p, d.name(), env)
			}
		}
	}
	r := render(t, profileVals(t, "production", map[string]any{"persistence": map[string]any{"enabled": true}}))
	pvcs := r.ofKind("PersistentVolumeClaim")
	if len(pvcs) != 3 {
		t.Fatalf("persistence.enabled: PVCs\n%s", dump(pvcs))
	}
	d := r.must(t, "Deployment", "hypersync")
	if get(d, "spec", "template", "spec", "volumes", 1, "persistentVolumeClaim", "claimName") != "hypersync-data" {
		t.Errorf("hypersync data volume %v", get(d, "spec", "template", "spec", "volumes", 1))
	}
}

// secretSources returns Secret name → keys the pod mounts.
func secretSources(t *testing.T, dep map[string]any) map[string][]string {
	out := map[string][]string{}
	for _, v := range get(dep, "spec", "template", "spec", "volumes").([]any) {
		for _, s := range asList(get(v, "projected", "sources")) {
			name := str(s, "secret", "name")
			for _, it := range asList(get(s, "secret", "items")) {
				out[name] = append(out[name], str(it, "key")+"->"+str(it, "path"))
			}
		}
		if n := str(v, "secret", "secretName"); n != "" {
			out[n] = append(out[n], "*")
		}
	}
	return out
}

func asList(v any) []any { l, _ := v.([]any); return l }

func configOf(t *testing.T, r rendered) map[string]any {
	t.Helper()
	cm := r.must(t, "ConfigMap", "tars-config")
	var cfg map[string]any
	if err := yaml.UnmarshalStrict([]byte(str(cm, "data", "config.yaml")), &cfg); err != nil {
		t.Fatalf("config.yaml: %v", err)
	}
	return cfg
}

func TestSecretReferences(t *testing.T) {
	t.Parallel()
	all := map[string][]string{
		"tars-jwt-secret": {"jwt-secret->jwt_secret"},
		"tars-aes-key":    {"aes.key->aes.key"},
		"tars-rsa-keys":   {"rsa_private.pem->rsa_private.pem", "rsa_public.pem->rsa_public.pem"},
		"tars-redis":      {"password->redis_password"},
		"tars-database":   {"password->db_password"},
	}
	for _, tc := range []struct {
		profile string
		want    []string
	}{
		{"production", []string{"tars-jwt-secret", "tars-aes-key", "tars-rsa-keys", "tars-redis", "tars-database"}},
		{"staging", []string{"tars-jwt-secret", "tars-aes-key", "tars-rsa-keys", "tars-redis", "tars-database"}},
		{"airgap", []string{"tars-jwt-secret", "tars-aes-key", "tars-rsa-keys", "tars-redis", "tars-database"}},
		{"docker", []string{"tars-jwt-secret", "tars-database"}},
		{"local", nil},
	} {
		r := render(t, profileVals(t, tc.profile))
		want := map[string][]string{}
		for _, n := range tc.want {
			want[n] = all[n]
		}
		for _, d := range r.ofKind("Deployment") {
			got := secretSources(t, d.Doc)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s mounts %v, want %v", tc.profile, d.name(), got, want)
			}
		}
		// The chart creates no Secret without an explicit value.
		if s := r.ofKind("Secret"); len(s) != 0 {
			t.Errorf("%s: the chart creates Secrets:\n%s", tc.profile, dump(s))
		}
		cfg := configOf(t, r)
		has := func(n string) bool { return want[n] != nil }
		check := func(key string, on bool, val any) {
			parts := strings.Split(key, ".")
			p := make([]any, len(parts))
			for i, s := range parts {
				p[i] = s
			}
			got := get(cfg, p...)
			if on && got != val {
				t.Errorf("%s: config %s = %v, want %v", tc.profile, key, got, val)
			}
			if !on && got == val {
				t.Errorf("%s: config %s = %v without its Secret", tc.profile, key, got)
			}
		}
		check("auth.jwt_secret_file", has("tars-jwt-secret"), "/run/secrets/tars/jwt_secret")
		check("encryption.key_file", has("tars-aes-key"), "/run/secrets/tars/aes.key")
		check("signing.key_file", has("tars-rsa-keys"), "/run/secrets/tars/rsa_private.pem")
		check("redis.password", has("tars-redis"), "file:/run/secrets/tars/redis_password")
		check("database.password", has("tars-database"), "file:/run/secrets/tars/db_password")
	}

	// A value given explicitly creates that Secret, and only that one.
	r := render(t, profileVals(t, "production", map[string]any{"secrets": map[string]any{
		"jwt": map[string]any{"value": "test-jwt-value"},
		"rsa": map[string]any{"publicKeyValue": "PUBLIC"},
	}}))
	sec := r.ofKind("Secret")
	if len(sec) != 2 {
		t.Fatalf("secrets:\n%s", dump(sec))
	}
	j := r.must(t, "Secret", "tars-jwt-secret")
	if get(j, "data", "jwt-secret") != "dGVzdC1qd3QtdmFsdWU=" {
		t.Errorf("tars-jwt-secret data %v", get(j, "data"))
	}
	if k := r.must(t, "Secret", "tars-rsa-keys"); !reflect.DeepEqual(get(k, "data"), map[string]any{"rsa_public.pem": "UFVCTElD"}) {
		t.Errorf("tars-rsa-keys data %v", get(k, "data"))
	}
	if strings.Contains(yamlString(t, r.must(t, "ConfigMap", "tars-config")), "test-jwt-value") {
		t.Error("a secret value reached the ConfigMap")
	}
}

func TestConfigMapIsTheProfile(t *testing.T) {
	t.Parallel()
	for _, p := range profiles {
		r := render(t, profileVals(t, p))
		cfg := configOf(t, r)
		v, _ := tarschart.ProfileValues(p)
		want := v["config"].(map[string]any)
		for _, key := range [][]any{{"environment"}, {"log_level"}, {"log_format"}, {"compliance", "enforcement_mode"},
			{"rate_limiting", "requests_per_minute"}, {"redis", "mode"}, {"database", "driver"}, {"auth", "enabled"}, {"compliance", "controls"}} {
			if yamlString(t, get(cfg, key...)) != yamlString(t, get(want, key...)) {
				t.Errorf("%s: config %v = %v, profile %v", p, key, get(cfg, key...), get(want, key...))
			}
		}
		if get(cfg, "api", "host") != "0.0.0.0" || get(cfg, "paths", "home") != "/var/lib/tars" {
			t.Errorf("%s: api.host %v paths.home %v", p, get(cfg, "api", "host"), get(cfg, "paths", "home"))
		}
		for svc, u := range map[string]string{"orchestration_agent": "http://orchestration-agent:8094", "hypersync": "http://hypersync:8098", "dashboard_api": "http://dashboard-api:3001"} {
			if get(cfg, "services", svc, "url") != u {
				t.Errorf("%s: services.%s.url = %v, want %s", p, svc, get(cfg, "services", svc, "url"), u)
			}
		}
		// The pods roll when the configuration changes.
		sum := str(get(r.must(t, "Deployment", "hypersync"), "spec", "template", "metadata"), "annotations", "checksum/config")
		if len(sum) != 64 {
			t.Errorf("%s: checksum/config %q", p, sum)
		}
	}
	a := render(t, profileVals(t, "production"))
	b := render(t, profileVals(t, "production", map[string]any{"config": map[string]any{"log_level": "DEBUG"}}))
	sa := str(get(a.must(t, "Deployment", "hypersync"), "spec", "template", "metadata"), "annotations", "checksum/config")
	sb := str(get(b.must(t, "Deployment", "hypersync"), "spec", "template", "metadata"), "annotations", "checksum/config")
	if sa == sb || get(configOf(t, b), "log_level") != "DEBUG" {
		t.Errorf("--set config.log_level=DEBUG: checksum %s → %s, log_level %v", sa, sb, get(configOf(t, b), "log_level"))
	}
}

func TestVaultAnnotations(t *testing.T) {
	t.Parallel()
	off := render(t, profileVals(t, "production"))
	for _, d := range off.ofKind("Deployment") {
		ann, _ := get(d.Doc, "spec", "template", "metadata", "annotations").(map[string]any)
		for k := range ann {
			if strings.HasPrefix(k, "vault.hashicorp.com/") {
				t.Errorf("vault off: %s has %s", d.name(), k)
			}
		}
	}
	on := render(t, profileVals(t, "production", map[string]any{"vault": map[string]any{"enabled": true}}))
	want := map[string]string{
		"vault.hashicorp.com/agent-inject":                          "true",
		"vault.hashicorp.com/role":                                  "tars",
		"vault.hashicorp.com/auth-path":                             "auth/kubernetes",
		"vault.hashicorp.com/secret-volume-path":                    "/vault/secrets",
		"vault.hashicorp.com/agent-inject-secret-jwt_secret":        "secret/data/tars/jwt-secret",
		"vault.hashicorp.com/agent-inject-template-jwt_secret":      `{{- with secret "secret/data/tars/jwt-secret" -}}{{ .Data.data.value }}{{- end -}}`,
		"vault.hashicorp.com/agent-inject-secret-aes.key":           "secret/data/tars/aes-key",
		"vault.hashicorp.com/agent-inject-template-aes.key":         `{{- with secret "secret/data/tars/aes-key" -}}{{ .Data.data.value }}{{- end -}}`,
		"vault.hashicorp.com/agent-inject-secret-rsa_private.pem":   "secret/data/tars/rsa-private",
		"vault.hashicorp.com/agent-inject-template-rsa_private.pem": `{{- with secret "secret/data/tars/rsa-private" -}}{{ .Data.data.key }}{{- end -}}`,
		"vault.hashicorp.com/agent-inject-secret-rsa_public.pem":    "secret/data/tars/rsa-public",
		"vault.hashicorp.com/agent-inject-secret-redis_password":    "secret/data/tars/redis",
		"vault.hashicorp.com/agent-inject-template-redis_password":  `{{- with secret "secret/data/tars/redis" -}}{{ .Data.data.password }}{{- end -}}`,
		"vault.hashicorp.com/agent-inject-secret-db_password":       "secret/data/tars/database",
	}
	for _, d := range on.ofKind("Deployment") {
		ann, _ := get(d.Doc, "spec", "template", "metadata", "annotations").(map[string]any)
		for k, v := range want {
			if ann[k] != v {
				t.Errorf("vault on: %s annotation %s = %q, want %q", d.name(), k, ann[k], v)
			}
		}
		pod := get(d.Doc, "spec", "template", "spec")
		if get(pod, "automountServiceAccountToken") != true {
			t.Errorf("vault on: %s has no service account token for the agent", d.name())
		}
		if s := secretSources(t, d.Doc); len(s) != 0 {
			t.Errorf("vault on: %s still mounts Secrets %v", d.name(), s)
		}
	}
	cfg := configOf(t, on)
	if get(cfg, "auth", "jwt_secret_file") != "/vault/secrets/jwt_secret" || get(cfg, "redis", "password") != "file:/vault/secrets/redis_password" {
		t.Errorf("vault on: config points at %v, %v", get(cfg, "auth", "jwt_secret_file"), get(cfg, "redis", "password"))
	}
	// With Vault, egress to its port is allowed.
	np := on.must(t, "NetworkPolicy", "dashboard-api")
	if !strings.Contains(yamlString(t, get(np, "spec", "egress")), "port: 8200") {
		t.Errorf("vault on: egress %s", yamlString(t, get(np, "spec", "egress")))
	}
	// Only what the configuration needs is injected.
	local := render(t, profileVals(t, "local", map[string]any{"vault": map[string]any{"enabled": true}}))
	ann := get(local.must(t, "Deployment", "dashboard-api"), "spec", "template", "metadata", "annotations").(map[string]any)
	for k := range ann {
		if strings.HasPrefix(k, "vault.hashicorp.com/agent-inject-secret-") {
			t.Errorf("local + vault injects %s though the local profile needs no secret", k)
		}
	}
}

func TestIngress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ profile, host, issuer string }{
		{"production", "tars.company.com", "letsencrypt-prod"},
		{"staging", "tars-staging.company.com", "letsencrypt-staging"},
		{"airgap", "tars.airgap.local", "tars-ca"},
	} {
		r := render(t, profileVals(t, tc.profile))
		ing := r.must(t, "Ingress", "tars-ingress")
		if str(ing, "apiVersion") != "networking.k8s.io/v1" || str(ing, "spec", "ingressClassName") != "nginx" {
			t.Errorf("%s ingress %v", tc.profile, get(ing, "spec"))
		}
		if str(ing, "metadata", "annotations", "cert-manager.io/cluster-issuer") != tc.issuer {
			t.Errorf("%s issuer %v", tc.profile, get(ing, "metadata", "annotations"))
		}
		if get(ing, "spec", "tls", 0, "secretName") != "tars-tls" || get(ing, "spec", "tls", 0, "hosts", 0) != tc.host {
			t.Errorf("%s tls %v", tc.profile, get(ing, "spec", "tls"))
		}
		rule := get(ing, "spec", "rules", 0)
		if get(rule, "host") != tc.host || get(rule, "http", "paths", 0, "backend", "service", "name") != "dashboard-api" ||
			num(rule, "http", "paths", 0, "backend", "service", "port", "number") != 3001 {
			t.Errorf("%s rule %v", tc.profile, rule)
		}
	}
	for _, p := range []string{"local", "docker"} {
		if i := render(t, profileVals(t, p)).ofKind("Ingress"); len(i) != 0 {
			t.Errorf("%s renders an Ingress", p)
		}
	}
}

func TestNetworkPolicies(t *testing.T) {
	t.Parallel()
	r := render(t, profileVals(t, "production"))
	nps := r.ofKind("NetworkPolicy")
	if len(nps) != 3 {
		t.Fatalf("network policies:\n%s", dump(nps))
	}
	for _, np := range nps {
		dep := r.must(t, "Deployment", np.name())
		if !reflect.DeepEqual(get(np.Doc, "spec", "podSelector", "matchLabels"), get(dep, "spec", "selector", "matchLabels")) {
			t.Errorf("%s selects %v", np.name(), get(np.Doc, "spec", "podSelector"))
		}
		if !reflect.DeepEqual(get(np.Doc, "spec", "policyTypes"), []any{"Ingress", "Egress"}) {
			t.Errorf("%s policyTypes %v", np.name(), get(np.Doc, "spec", "policyTypes"))
		}
		ing := yamlString(t, get(np.Doc, "spec", "ingress"))
		fromController := strings.Contains(ing, "ingress-nginx")
		if fromController != (np.name() == "dashboard-api") {
			t.Errorf("%s: ingress controller allowed = %v:\n%s", np.name(), fromController, ing)
		}
		eg := yamlString(t, get(np.Doc, "spec", "egress"))
		for _, want := range []string{"port: 53", "port: 6379", "port: 5432", "k8s-app: kube-dns"} {
			if !strings.Contains(eg, want) {
				t.Errorf("%s egress lacks %q:\n%s", np.name(), want, eg)
			}
		}
	}
}

// `helm lint` through the SDK: no errors and no warnings, for the chart's
// defaults and for every profile's values.
func TestHelmLint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir() + "/tars"
	var buf bytes.Buffer
	if err := tarschart.Package(&buf, "", ""); err != nil {
		t.Fatal(err)
	}
	untar(t, buf.Bytes(), dir+"/..")
	cases := map[string]map[string]any{"defaults": {}}
	for _, p := range profiles {
		cases[p] = profileVals(t, p)
		cases[p+"+vault"] = profileVals(t, p, map[string]any{"vault": map[string]any{"enabled": true}})
	}
	for name, vals := range cases {
		res := lint.AllWithKubeVersion(dir, vals, "tars-prod", &chartutil.KubeVersion{Version: "v1.37.2", Major: "1", Minor: "37"})
		if testing.Verbose() {
			for _, m := range res.Messages {
				t.Logf("lint %s: %s", name, m)
			}
		}
		for _, m := range res.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("helm lint (%s): %s", name, m)
			}
		}
	}
}

// The lint above can fail: values the schema refuses are an error that
// names the key.
func TestHelmLintReportsErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir() + "/tars"
	var buf bytes.Buffer
	if err := tarschart.Package(&buf, "", ""); err != nil {
		t.Fatal(err)
	}
	untar(t, buf.Bytes(), dir+"/..")
	vals := profileVals(t, "production", map[string]any{"dashboardApi": map[string]any{"replicas": "three"}})
	res := lint.AllWithKubeVersion(dir, vals, "tars-prod", nil)
	var errs []string
	for _, m := range res.Messages {
		if m.Severity == support.ErrorSev {
			errs = append(errs, m.Error())
		}
	}
	if len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), "/dashboardApi/replicas") {
		t.Errorf("lint errors %v, want one naming dashboardApi.replicas", errs)
	}
}

// An Ingress path routed to a daemon the chart does not run stops the
// render with a message that names it and the daemons there are.
func TestIngressUnknownService(t *testing.T) {
	t.Parallel()
	vals := profileVals(t, "production", map[string]any{"ingress": map[string]any{"hosts": []any{
		map[string]any{"host": "tars.example.com", "paths": []any{map[string]any{"path": "/", "service": "frontend"}}},
	}}})
	_, err := renderE(t, vals)
	if err == nil || !strings.Contains(err.Error(), `unknown service "frontend" (one of dashboard-api, hypersync, orchestration-agent)`) {
		t.Errorf("err = %v", err)
	}
}

func untar(t *testing.T, tgz []byte, dir string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		writeFile(t, dir+"/"+h.Name, data)
	}
}

func tarNames(t *testing.T, tgz []byte) []string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

// The production manifest, for reviewers: what `tarsctl deploy k8s
// template --profile production` prints.
func TestGoldenProductionManifest(t *testing.T) {
	t.Parallel()
	r := render(t, profileVals(t, "production"))
	var b strings.Builder
	names := make([]string, 0, len(r.Files))
	for n := range r.Files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if strings.HasSuffix(n, "NOTES.txt") || strings.TrimSpace(r.Files[n]) == "" {
			continue
		}
		b.WriteString("---\n# Source: " + n + "\n")
		b.WriteString(strings.TrimLeft(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r.Files[n]), "---")), "\n") + "\n")
	}
	golden.Assert(t, []byte(b.String()))
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
