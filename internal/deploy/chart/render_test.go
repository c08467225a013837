package chart_test

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"sigs.k8s.io/yaml"

	tarschart "github.com/tars-ops/tarsctl/internal/deploy/chart"
)

// loadChart loads the embedded chart through Helm's loader, as the
// companion binary does.
func loadChart(t testing.TB) *chart.Chart {
	t.Helper()
	files, err := tarschart.Files()
	if err != nil {
		t.Fatal(err)
	}
	var bf []*loader.BufferedFile
	for _, f := range files {
		bf = append(bf, &loader.BufferedFile{Name: f.Name, Data: f.Data})
	}
	c, err := loader.LoadFiles(bf)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return c
}

// object is one decoded manifest.
type object struct {
	Template string
	Doc      map[string]any
}

func (o object) kind() string { return str(o.Doc, "kind") }
func (o object) name() string { return str(o.Doc, "metadata", "name") }

// rendered is the output of one render.
type rendered struct {
	Objects []object
	Files   map[string]string // template → text
}

func (r rendered) find(kind, name string) (object, bool) {
	for _, o := range r.Objects {
		if o.kind() == kind && o.name() == name {
			return o, true
		}
	}
	return object{}, false
}

func (r rendered) must(t testing.TB, kind, name string) map[string]any {
	t.Helper()
	o, ok := r.find(kind, name)
	if !ok {
		t.Fatalf("no %s %q rendered; have %v", kind, name, r.names())
	}
	return o.Doc
}

func (r rendered) ofKind(kind string) []object {
	var out []object
	for _, o := range r.Objects {
		if o.kind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func (r rendered) names() []string {
	var out []string
	for _, o := range r.Objects {
		out = append(out, o.kind()+"/"+o.name())
	}
	return out
}

// render renders every template with vals (user values over values.yaml)
// through Helm's engine, as `helm template` does, and decodes the objects.
func render(t testing.TB, vals map[string]any) rendered {
	t.Helper()
	r, err := renderE(t, vals)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func renderE(t testing.TB, vals map[string]any) (rendered, error) {
	t.Helper()
	c := loadChart(t)
	if err := chartutil.ProcessDependenciesWithMerge(c, vals); err != nil {
		t.Fatal(err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = chartutil.KubeVersion{Version: "v1.37.2", Major: "1", Minor: "37"}
	rv, err := chartutil.ToRenderValues(c, vals, chartutil.ReleaseOptions{
		Name: "tars", Namespace: "tars-prod", Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		t.Fatalf("render values: %v", err)
	}
	out, err := engine.Render(c, rv)
	if err != nil {
		return rendered{}, fmt.Errorf("render: %w", err)
	}
	r := rendered{Files: map[string]string{}}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.HasSuffix(n, "NOTES.txt") || strings.HasSuffix(n, ".tpl") {
			r.Files[n] = out[n]
			continue
		}
		r.Files[n] = out[n]
		for _, doc := range splitDocs(out[n]) {
			var m map[string]any
			if err := yaml.UnmarshalStrict([]byte(doc), &m); err != nil {
				t.Fatalf("%s: not valid YAML: %v\n%s", n, err, doc)
			}
			if m == nil {
				continue
			}
			r.Objects = append(r.Objects, object{Template: n, Doc: m})
		}
	}
	return r, nil
}

func splitDocs(s string) []string {
	var docs []string
	for _, d := range strings.Split("\n"+s, "\n---") {
		if strings.TrimSpace(d) != "" {
			docs = append(docs, d)
		}
	}
	return docs
}

func profileVals(t testing.TB, profile string, extra ...map[string]any) map[string]any {
	t.Helper()
	v, err := tarschart.ProfileValues(profile)
	if err != nil {
		t.Fatal(err)
	}
	// Values reach Helm as YAML (a --values file) or as Go values (the SDK);
	// go through YAML so both render the same.
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := yaml.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	for _, e := range extra {
		out = chartutil.CoalesceTables(deepCopy(e), out)
	}
	return out
}

func deepCopy(m map[string]any) map[string]any {
	b, _ := yaml.Marshal(m)
	var out map[string]any
	_ = yaml.Unmarshal(b, &out)
	return out
}

// get walks a decoded object: keys for maps, ints for lists.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...string) string {
	p := make([]any, len(path))
	for i, s := range path {
		p[i] = s
	}
	s, _ := get(v, p...).(string)
	return s
}

func num(v any, path ...any) float64 {
	switch n := get(v, path...).(type) {
	case float64:
		return n
	case int64:
		return float64(n)
	case int:
		return float64(n)
	}
	return -1
}

func yamlString(t testing.TB, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func dump(objs []object) string {
	var b bytes.Buffer
	for _, o := range objs {
		fmt.Fprintf(&b, "%s %s/%s\n", o.Template, o.kind(), o.name())
	}
	return b.String()
}
