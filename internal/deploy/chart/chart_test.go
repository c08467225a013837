package chart_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"

	"github.com/tars-ops/tarsctl/internal/config"
	tarschart "github.com/tars-ops/tarsctl/internal/deploy/chart"
	"github.com/tars-ops/tarsctl/internal/services"
)

var profiles = config.ProfileNames()

// deployments is what the chart must run: every daemon of `tarsctl serve`.
func deployments(t *testing.T, profile string) map[string]int {
	t.Helper()
	res, _ := config.Load(config.LoadOptions{Profile: profile, Getenv: func(string) string { return "" }, ConfigFile: "/nonexistent/none.yaml",
		ReadFile: func(string) ([]byte, error) { return []byte("{}"), nil }})
	if res == nil || res.Config == nil {
		t.Fatalf("load profile %s", profile)
	}
	out := map[string]int{}
	for _, n := range services.Names() {
		s, _ := services.Lookup(n)
		out[n] = s.Port(res.Config)
	}
	return out
}

func TestName(t *testing.T) {
	t.Parallel()
	if tarschart.Name() != "tars" {
		t.Fatalf("Name() = %q", tarschart.Name())
	}
	c := loadChart(t)
	if c.Name() != tarschart.Name() {
		t.Fatalf("Chart.yaml name %q, Name() %q", c.Name(), tarschart.Name())
	}
	if c.Metadata.KubeVersion != ">=1.30.0-0" {
		t.Errorf("kubeVersion = %q", c.Metadata.KubeVersion)
	}
	if c.Metadata.APIVersion != "v2" {
		t.Errorf("apiVersion = %q", c.Metadata.APIVersion)
	}
}

func TestFilesLayout(t *testing.T) {
	t.Parallel()
	files, err := tarschart.Files()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		if strings.Contains(f.Name, "\\") || strings.HasPrefix(f.Name, "/") || strings.HasPrefix(f.Name, "tars/") {
			t.Errorf("file name %q is not relative to the chart root", f.Name)
		}
		if len(f.Data) == 0 {
			t.Errorf("%s is empty", f.Name)
		}
		names = append(names, f.Name)
	}
	for _, want := range []string{"Chart.yaml", "values.yaml", "templates/_helpers.tpl", "templates/NOTES.txt",
		"templates/deployment.yaml", "templates/service.yaml", "templates/ingress.yaml", "templates/hpa.yaml",
		"templates/pdb.yaml", "templates/networkpolicy.yaml", "templates/configmap.yaml", "templates/serviceaccount.yaml"} {
		if !slices.Contains(names, want) {
			t.Errorf("chart has no %s; files: %v", want, names)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("Files() not sorted: %v", names)
	}
}

// The chart's values.yaml defaults are the production profile's values.
func TestValuesYAMLIsProduction(t *testing.T) {
	t.Parallel()
	c := loadChart(t)
	prod := profileVals(t, "production")
	for k, want := range prod {
		got := c.Values[k]
		if m, ok := want.(map[string]any); ok {
			// values.yaml may hold more keys than the profile sets
			gm, _ := got.(map[string]any)
			got = chartutil.CoalesceTables(map[string]any{}, pick(gm, m))
		}
		if yamlString(t, got) != yamlString(t, want) {
			t.Errorf("values.yaml %s differs from ProfileValues(production):\n--- values.yaml\n%s--- profile\n%s", k, yamlString(t, got), yamlString(t, want))
		}
	}
}

// pick keeps the keys of have that want has, recursively.
func pick(have, want map[string]any) map[string]any {
	out := map[string]any{}
	for k, w := range want {
		h, ok := have[k]
		if !ok {
			continue
		}
		if wm, ok := w.(map[string]any); ok {
			if hm, ok := h.(map[string]any); ok {
				out[k] = pick(hm, wm)
				continue
			}
		}
		out[k] = h
	}
	return out
}

func TestProfileValues(t *testing.T) {
	t.Parallel()
	for _, p := range profiles {
		v, err := tarschart.ProfileValues(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if v["profile"] != p {
			t.Errorf("%s: profile = %v", p, v["profile"])
		}
		cfg := v["config"].(map[string]any)
		if get(cfg, "environment") != p {
			t.Errorf("%s: config.environment = %v", p, get(cfg, "environment"))
		}
		// Every profile sets the same top-level keys, so that layering one
		// over values.yaml leaves none of production's showing through.
		prod, _ := tarschart.ProfileValues("production")
		if p != "airgap" {
			var a, b []string
			for k := range v {
				a = append(a, k)
			}
			for k := range prod {
				b = append(b, k)
			}
			slices.Sort(a)
			slices.Sort(b)
			if !slices.Equal(a, b) {
				t.Errorf("%s sets %v, production %v", p, a, b)
			}
		}
		// A literal secret never reaches the values (and so the ConfigMap);
		// every secret key is set, to "" or a reference, so that
		// production's values.yaml never shows through.
		for _, f := range config.Fields() {
			if f.Kind != config.KindSecret {
				continue
			}
			parts := strings.Split(f.Key, ".")
			path := make([]any, len(parts))
			for i, s := range parts {
				path[i] = s
			}
			s, ok := get(cfg, path...).(string)
			if !ok || (s != "" && !config.Secret(s).IsReference()) {
				t.Errorf("%s: config %s = %v, want \"\" or a file:/env: reference", p, f.Key, get(cfg, path...))
			}
		}
	}
	if _, err := tarschart.ProfileValues("prod"); err == nil || !strings.Contains(err.Error(), "known profiles: local, docker") {
		t.Errorf("unknown profile: err = %v", err)
	}
}

func TestValuesKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"dashboard-api": "dashboardApi", "orchestration-agent": "orchestrationAgent", "hypersync": "hypersync"} {
		if got := tarschart.ValuesKey(in); got != want {
			t.Errorf("ValuesKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPackageLoadsAndEqualsFiles(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := tarschart.Package(&buf, "v1.2.3-rc.1", "1.2.3-rc.1"); err != nil {
		t.Fatal(err)
	}
	c, err := loader.LoadArchive(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("helm cannot load the package: %v", err)
	}
	if c.Metadata.Version != "1.2.3-rc.1" || c.Metadata.AppVersion != "1.2.3-rc.1" {
		t.Errorf("version %q appVersion %q", c.Metadata.Version, c.Metadata.AppVersion)
	}
	if c.Metadata.Name != "tars" || c.Metadata.KubeVersion != ">=1.30.0-0" {
		t.Errorf("metadata %+v", c.Metadata)
	}
	files, _ := tarschart.Files()
	want := map[string]string{}
	for _, f := range files {
		want[f.Name] = string(f.Data)
	}
	got := map[string]string{}
	for _, f := range c.Raw {
		got[f.Name] = string(f.Data)
	}
	if len(got) != len(want) {
		t.Errorf("package has %d files, Files() %d", len(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("package lacks %s", name)
		case name == "Chart.yaml":
			w = strings.Replace(w, `version: 1.0.2`, `version: "1.2.3-rc.1"`, 1)
			w = strings.Replace(w, `appVersion: "1.0.2"`, `appVersion: "1.2.3-rc.1"`, 1)
			if g != w {
				t.Errorf("Chart.yaml in package:\n%s\nwant:\n%s", g, w)
			}
		case g != w:
			t.Errorf("%s differs in the package", name)
		}
	}
	// Entries live under tars/, as `helm package` writes them.
	names := tarNames(t, buf.Bytes())
	for _, n := range names {
		if !strings.HasPrefix(n, "tars/") {
			t.Errorf("archive entry %q is not under tars/", n)
		}
	}
	// Reproducible.
	var again bytes.Buffer
	if err := tarschart.Package(&again, "v1.2.3-rc.1", "1.2.3-rc.1"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("two packages of the same chart differ")
	}
}

func TestPackageKeepsVersionsWhenEmpty(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := tarschart.Package(&buf, "", ""); err != nil {
		t.Fatal(err)
	}
	c, err := loader.LoadArchive(&buf)
	if err != nil {
		t.Fatal(err)
	}
	orig := loadChart(t)
	if c.Metadata.Version != orig.Metadata.Version || c.Metadata.AppVersion != orig.Metadata.AppVersion {
		t.Errorf("got %s/%s, want %s/%s", c.Metadata.Version, c.Metadata.AppVersion, orig.Metadata.Version, orig.Metadata.AppVersion)
	}
}

func TestPackageRejectsBadVersions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ version, app, want string }{
		{"1.2", "1.2", "not a semantic version"},
		{"latest", "", "not a semantic version"},
		{"1.0.0\nname: evil", "", "not a semantic version"},
		{"1.0.0", "x\"\ny", "must not contain"},
	} {
		var buf bytes.Buffer
		err := tarschart.Package(&buf, tc.version, tc.app)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Package(%q, %q) err = %v, want %q", tc.version, tc.app, err, tc.want)
		}
		if buf.Len() != 0 {
			t.Errorf("Package(%q) wrote %d bytes despite the error", tc.version, buf.Len())
		}
	}
}

// The chart's service list matches the daemons tarsctl serves.
func TestChartRunsEveryDaemon(t *testing.T) {
	t.Parallel()
	for _, p := range profiles {
		r := render(t, profileVals(t, p))
		want := deployments(t, p)
		var got []string
		for _, o := range r.ofKind("Deployment") {
			got = append(got, o.name())
			port, ok := want[o.name()]
			if !ok {
				t.Errorf("%s: Deployment %s is not a daemon of tarsctl serve (%v)", p, o.name(), services.Names())
				continue
			}
			c := get(o.Doc, "spec", "template", "spec", "containers", 0)
			if !reflect.DeepEqual(get(c, "args"), []any{"serve", o.name()}) {
				t.Errorf("%s: %s args = %v", p, o.name(), get(c, "args"))
			}
			if num(c, "ports", 0, "containerPort") != float64(port) {
				t.Errorf("%s: %s containerPort = %v, want %d", p, o.name(), get(c, "ports"), port)
			}
			svc := r.must(t, "Service", o.name())
			if num(svc, "spec", "ports", 0, "port") != float64(port) {
				t.Errorf("%s: Service %s port = %v, want %d", p, o.name(), get(svc, "spec", "ports"), port)
			}
			if !reflect.DeepEqual(get(svc, "spec", "selector"), get(o.Doc, "spec", "selector", "matchLabels")) {
				t.Errorf("%s: Service %s selects %v, Deployment %v", p, o.name(), get(svc, "spec", "selector"), get(o.Doc, "spec", "selector", "matchLabels"))
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: Deployments %v, want the daemons %v", p, got, services.Names())
		}
	}
}

func TestValuesYAMLParses(t *testing.T) {
	t.Parallel()
	files, _ := tarschart.Files()
	for _, f := range files {
		if f.Name != "values.yaml" {
			continue
		}
		var m map[string]any
		if err := yaml.UnmarshalStrict(f.Data, &m); err != nil {
			t.Fatal(err)
		}
	}
}

// Bad values fail before anything is rendered, naming the key.
func TestSchemaRejectsBadValues(t *testing.T) {
	t.Parallel()
	c := loadChart(t)
	for _, tc := range []struct {
		vals map[string]any
		want string
	}{
		{map[string]any{"dashboardApi": map[string]any{"replicas": "three"}}, "/dashboardApi/replicas"},
		{map[string]any{"hypersync": map[string]any{"replicas": -1}}, "/hypersync/replicas"},
		{map[string]any{"profile": "prod"}, "profile"},
		{map[string]any{"autoscaling": map[string]any{"targetCPUUtilizationPercentage": 170}}, "targetCPUUtilizationPercentage"},
		{map[string]any{"global": map[string]any{"image": map[string]any{"pullPolicy": "Sometimes"}}}, "pullPolicy"},
		{map[string]any{"vault": map[string]any{"secrets": map[string]any{"jwt": map[string]any{"field": "a-b"}}}}, "/vault/secrets/jwt/field"},
	} {
		_, err := chartutil.ToRenderValues(c, tc.vals, chartutil.ReleaseOptions{Name: "tars", Namespace: "tars-prod"}, chartutil.DefaultCapabilities)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("values %v: err = %v, want it to name %s", tc.vals, err, tc.want)
		}
	}
	for _, p := range profiles {
		if _, err := chartutil.ToRenderValues(c, profileVals(t, p), chartutil.ReleaseOptions{Name: "tars", Namespace: "tars-prod"}, chartutil.DefaultCapabilities); err != nil {
			t.Errorf("%s values fail the schema: %v", p, err)
		}
	}
}

// Package lays the archive out as `helm package` (chartutil.Save) does:
// the same entry names.
func TestPackageLayoutMatchesHelm(t *testing.T) {
	t.Parallel()
	c := loadChart(t)
	c.Metadata.Version = "1.2.3"
	c.Metadata.AppVersion = "1.2.3"
	dir := t.TempDir()
	path, err := chartutil.Save(c, dir)
	if err != nil {
		t.Fatal(err)
	}
	helmTgz, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "tars-1.2.3.tgz" {
		t.Errorf("helm names it %s", filepath.Base(path))
	}
	var ours bytes.Buffer
	if err := tarschart.Package(&ours, "1.2.3", "1.2.3"); err != nil {
		t.Fatal(err)
	}
	want, got := tarNames(t, helmTgz), tarNames(t, ours.Bytes())
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("entries\n got %v\nhelm %v", got, want)
	}
}
