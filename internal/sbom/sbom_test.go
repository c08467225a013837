package sbom_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/sbom"
	"github.com/tars-ops/tarsctl/internal/testenv/golden"
)

const (
	fixtures = "../../testdata/sbom"
	modCache = "../../testdata/sbom/gomodcache"
)

var stamp = time.Date(2025, 11, 28, 10, 15, 32, 0, time.UTC)

func wopts(spec string) sbom.WriteOptions {
	return sbom.WriteOptions{Timestamp: stamp, Tool: sbom.Tool{Name: "tarsctl", Version: "v1.0.2"}, SpecVersion: spec}
}

func catalog(t testing.TB, path string, o sbom.Options) *sbom.Inventory {
	t.Helper()
	o.Path = path
	if o.ModCache == "" {
		o.ModCache = modCache
	}
	inv, err := sbom.Catalog(t.Context(), o)
	if err != nil {
		t.Fatalf("Catalog(%s): %v", path, err)
	}
	return inv
}

func write(t testing.TB, inv *sbom.Inventory, format string, o sbom.WriteOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := sbom.Write(&buf, format, inv, o); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var goldenFixtures = []struct {
	name, path string
	opts       sbom.Options
}{
	{"gomod", "gomod", sbom.Options{Version: "v1.0.2"}},
	{"requirements", "python/requirements.txt", sbom.Options{Name: "tars-analytics", Version: "v1.0.2"}},
	{"poetry", "poetry", sbom.Options{Name: "tars-insight", Version: "1.0.2"}},
	{"pipenv", "pipenv", sbom.Options{Name: "tars-tools", Version: "1.0.2"}},
	{"npm", "npm", sbom.Options{}},
}

// TestGolden writes every fixture in both formats and compares with
// testdata/TestGolden_<fixture>_<format>.golden (-update rewrites them). Each
// output must also be valid, and the same on a second run.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, fx := range goldenFixtures {
		for _, format := range sbom.Formats {
			t.Run(fx.name+"/"+format, func(t *testing.T) {
				t.Parallel()
				inv := catalog(t, filepath.Join(fixtures, fx.path), fx.opts)
				out := write(t, inv, format, wopts(""))
				golden.Assert(t, out)
				again := write(t, catalog(t, filepath.Join(fixtures, fx.path), fx.opts), format, wopts(""))
				if !bytes.Equal(out, again) {
					t.Fatal("two runs on the same input differ")
				}
				res, err := sbom.Validate(out)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Valid() {
					t.Fatalf("output is not valid: %v", res.Problems)
				}
			})
		}
	}
}

// TestGoModule checks what the golden file only shows: the graph, the
// licenses from the module cache, the h1 property and the warning.
func TestGoModule(t *testing.T) {
	t.Parallel()
	inv := catalog(t, filepath.Join(fixtures, "gomod"), sbom.Options{Version: "v1.0.2"})
	if inv.Root.Name != "tars-fixture" || inv.Root.PURL != "pkg:golang/example.com/tars-fixture@v1.0.2" {
		t.Fatalf("root = %+v", inv.Root)
	}
	cobra := inv.Lookup("pkg:golang/github.com/spf13/cobra@v1.10.2")
	if cobra == nil || !slices.Equal(cobra.Licenses, []string{"Apache-2.0"}) || len(cobra.Hashes) != 0 {
		t.Fatalf("cobra = %+v", cobra)
	}
	if h1, _ := cobra.Property(sbom.PropGoH1); h1 != "h1:DMTTonx5m65Ic0GOoRY2c16WCbHxOOw6xxezuLaBpcU=" {
		t.Errorf("cobra h1 = %q", h1)
	}
	if d, _ := cobra.Property(sbom.PropDependency); d != "direct" {
		t.Errorf("cobra is %s, want direct", d)
	}
	pflag := "pkg:golang/github.com/spf13/pflag@v1.0.10"
	if !slices.Contains(inv.Dependencies[cobra.Ref], pflag) {
		t.Errorf("cobra's edges %v lack pflag", inv.Dependencies[cobra.Ref])
	}
	if p := inv.Lookup(pflag); p == nil || !slices.Equal(p.Licenses, []string{"BSD-3-Clause"}) {
		t.Errorf("pflag = %+v", p)
	} else if d, _ := p.Property(sbom.PropDependency); d != "transitive" {
		t.Errorf("pflag is %s, want transitive", d)
	}
	if toml := inv.Lookup("pkg:golang/github.com/BurntSushi/toml@v1.4.0"); toml == nil || !slices.Equal(toml.Licenses, []string{"MIT"}) {
		t.Errorf("toml (escaped path in the module cache) = %+v", toml)
	}
	if len(inv.Warnings) != 1 || !strings.Contains(inv.Warnings[0], "github.com/not-in-cache/module@v0.3.0") {
		t.Errorf("warnings = %q", inv.Warnings)
	}
	// Without a module cache the same inventory has no licenses or graph,
	// and says so, but still lists every module.
	bare := catalog(t, filepath.Join(fixtures, "gomod"), sbom.Options{ModCache: filepath.Join(t.TempDir(), "empty")})
	if len(bare.Components) != len(inv.Components) || len(bare.Warnings) != 1 || !strings.Contains(bare.Warnings[0], "6 module(s)") {
		t.Errorf("without a cache: %d components, warnings %q", len(bare.Components), bare.Warnings)
	}
}

func TestNPM(t *testing.T) {
	t.Parallel()
	inv := catalog(t, filepath.Join(fixtures, "npm"), sbom.Options{})
	if inv.Root.Name != "tars-frontend" || inv.Root.Version != "1.0.2" {
		t.Fatalf("root = %+v", inv.Root)
	}
	debug := "pkg:npm/debug@4.3.4"
	if !slices.Equal(inv.Dependencies[debug], []string{"pkg:npm/ms@2.1.2"}) {
		t.Errorf("debug depends on %v, want the nested ms@2.1.2", inv.Dependencies[debug])
	}
	ts := inv.Lookup("pkg:npm/typescript@5.1.6")
	if ts == nil || ts.Scope != sbom.ScopeDev {
		t.Fatalf("typescript = %+v", ts)
	}
	node := inv.Lookup("pkg:npm/%40types/node@20.4.5")
	if node == nil || len(node.Hashes) != 1 || node.Hashes[0].Algorithm != sbom.SHA512 || len(node.Hashes[0].Value) != 128 {
		t.Fatalf("@types/node = %+v", node)
	}
	noDev := catalog(t, filepath.Join(fixtures, "npm"), sbom.Options{ExcludeDev: true})
	if noDev.Lookup(ts.Ref) != nil || len(noDev.Components) != len(inv.Components)-1 {
		t.Errorf("--exclude-dev kept typescript or dropped more")
	}
}

func TestPython(t *testing.T) {
	t.Parallel()
	inv := catalog(t, filepath.Join(fixtures, "python", "requirements.txt"), sbom.Options{})
	flask := inv.Lookup("pkg:pypi/flask@2.3.2")
	if flask == nil || flask.Name != "flask" || len(flask.Hashes) != 1 || flask.Hashes[0].Algorithm != sbom.SHA256 {
		t.Fatalf("flask = %+v", flask)
	}
	if !slices.Contains(inv.Dependencies[flask.Ref], "pkg:pypi/jinja2@3.1.2") {
		t.Errorf("pip-compile's via comments lost: flask → %v", inv.Dependencies[flask.Ref])
	}
	if z := inv.Lookup("pkg:pypi/zope-interface@6.0"); z == nil {
		t.Error("zope.interface not normalised to zope-interface")
	}
	if p := inv.Lookup("pkg:pypi/pytest@7.4.0"); p == nil || p.Scope != sbom.ScopeDev {
		t.Errorf("pytest from requirements-dev.txt = %+v", p)
	}
	if p := inv.Lookup("pkg:pypi/typing-extensions@4.7.1"); p == nil {
		t.Error("=== pin not read")
	}
	joined := strings.Join(inv.Warnings, "\n")
	for _, w := range []string{"requests is not pinned", "editable requirement"} {
		if !strings.Contains(joined, w) {
			t.Errorf("warnings lack %q: %s", w, joined)
		}
	}

	poetry := catalog(t, filepath.Join(fixtures, "poetry"), sbom.Options{})
	if !slices.Equal(poetry.Dependencies[poetry.Root.Ref], []string{"pkg:pypi/pytest@7.4.0", "pkg:pypi/requests@2.31.0"}) {
		t.Errorf("poetry direct = %v", poetry.Dependencies[poetry.Root.Ref])
	}
	if c := poetry.Lookup("pkg:pypi/certifi@2023.7.22"); c == nil || len(c.Hashes) != 2 {
		t.Errorf("certifi = %+v", c)
	}
	if c := poetry.Lookup("pkg:pypi/iniconfig@2.0.0"); c == nil || c.Scope != sbom.ScopeDev {
		t.Errorf("iniconfig = %+v", c)
	}

	pipenv := catalog(t, filepath.Join(fixtures, "pipenv"), sbom.Options{})
	if c := pipenv.Lookup("pkg:pypi/ruamel-yaml@0.17.32"); c == nil || c.Name != "ruamel-yaml" {
		t.Errorf("ruamel.yaml = %+v", c)
	}
	if c := pipenv.Lookup("pkg:pypi/black@23.7.0"); c == nil || c.Scope != sbom.ScopeDev {
		t.Errorf("black = %+v", c)
	}
	if !strings.Contains(strings.Join(pipenv.Warnings, "\n"), "localtool has no pinned version") {
		t.Errorf("warnings = %q", pipenv.Warnings)
	}
}

func TestNormalizePyPI(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Flask": "flask", "zope.interface": "zope-interface", "Typing_Extensions": "typing-extensions",
		"ruamel.yaml.clib": "ruamel-yaml-clib", "a--b__c..d": "a-b-c-d", "A-._B": "a-b",
	} {
		if got := sbom.NormalizePyPI(in); got != want {
			t.Errorf("NormalizePyPI(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		eco           sbom.Ecosystem
		name, version string
		want          string
	}{
		{sbom.Golang, "github.com/spf13/cobra", "v1.10.2", "pkg:golang/github.com/spf13/cobra@v1.10.2"},
		{sbom.Golang, "github.com/BurntSushi/toml", "v1.4.0", "pkg:golang/github.com/BurntSushi/toml@v1.4.0"},
		{sbom.Golang, "gopkg.in/yaml.v3", "v3.0.1", "pkg:golang/gopkg.in/yaml.v3@v3.0.1"},
		{sbom.Golang, "example.com/m", "v2.0.0+incompatible", "pkg:golang/example.com/m@v2.0.0%2Bincompatible"},
		{sbom.NPM, "@types/node", "20.4.5", "pkg:npm/%40types/node@20.4.5"},
		{sbom.NPM, "lodash", "4.17.21", "pkg:npm/lodash@4.17.21"},
		{sbom.PyPI, "Zope.Interface", "6.0", "pkg:pypi/zope-interface@6.0"},
	} {
		if got := sbom.PURL(tc.eco, tc.name, tc.version); got != tc.want {
			t.Errorf("PURL(%s, %s, %s) = %s, want %s", tc.eco, tc.name, tc.version, got, tc.want)
		}
	}
}

// buildFixtureBinary builds testdata/sbom/gobinary/app with fixed flags:
// no network (GOPROXY=off, its one dependency is a local replace), no VCS
// stamp, trimmed paths.
func buildFixtureBinary(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the fixture binary: %v", err)
	}
	out := filepath.Join(t.TempDir(), "tars-hello")
	cmd := exec.CommandContext(t.Context(), goBin, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = filepath.Join(fixtures, "gobinary", "app")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOPROXY=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	return out
}

// TestGoBinary inventories a Go binary built in the test. Its build
// information names the toolchain and platform of this machine, so the test
// checks fields instead of a golden file.
func TestGoBinary(t *testing.T) {
	t.Parallel()
	bin := buildFixtureBinary(t)
	inv := catalog(t, bin, sbom.Options{Version: "v1.0.2"})
	r := inv.Root
	if r.Name != "tars-hello" || r.Version != "v1.0.2" || r.PURL != "pkg:golang/example.com/tars-hello@v1.0.2" {
		t.Fatalf("root = %+v", r)
	}
	for prop, want := range map[string]string{
		"tarsctl:go:main-module":       "example.com/tars-hello",
		"tarsctl:go:build:-trimpath":   "true",
		"tarsctl:go:build:CGO_ENABLED": "0",
		"tarsctl:go:build:GOOS":        runtime.GOOS,
	} {
		if got, _ := r.Property(prop); got != want {
			t.Errorf("root %s = %q, want %q", prop, got, want)
		}
	}
	if v, _ := r.Property("tarsctl:go:toolchain"); !strings.HasPrefix(v, "go1.") {
		t.Errorf("toolchain = %q", v)
	}
	if len(inv.Components) != 1 {
		t.Fatalf("components = %+v", inv.Components)
	}
	c := inv.Components[0]
	if c.PURL != "pkg:golang/example.com/greet" || c.Version != "" {
		t.Errorf("dependency = %+v", c)
	}
	if d, _ := c.Property("tarsctl:go:replaced-by-directory"); d != "../greet" {
		t.Errorf("replace = %q", d)
	}
	for _, format := range sbom.Formats {
		res, err := sbom.Validate(write(t, inv, format, wopts("")))
		if err != nil || !res.Valid() {
			t.Fatalf("%s: %v %v", format, err, res)
		}
	}
	// A file that is neither a lockfile nor a Go binary.
	_, err := sbom.Catalog(t.Context(), sbom.Options{Path: "../../testdata/provenance/artifact.txt"})
	if !errors.Is(err, sbom.ErrUnknownFormat) {
		t.Fatalf("err = %v, want ErrUnknownFormat", err)
	}
}

func TestCycloneDX16(t *testing.T) {
	t.Parallel()
	out := write(t, catalog(t, filepath.Join(fixtures, "npm"), sbom.Options{}), sbom.FormatCycloneDX, wopts(sbom.CycloneDX16))
	res, err := sbom.Validate(out)
	if err != nil || !res.Valid() || res.Version != "1.6" {
		t.Fatalf("1.6 output: %v %+v", err, res)
	}
	if !bytes.Contains(out, []byte(`"$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json"`)) {
		t.Error("1.6 output has the wrong $schema")
	}
	if err := sbom.Write(&bytes.Buffer{}, sbom.FormatCycloneDX, &sbom.Inventory{}, wopts("1.3")); !errors.Is(err, sbom.ErrUnknownFormat) {
		t.Errorf("spec 1.3: err = %v", err)
	}
}

func TestTimestampChangesSerial(t *testing.T) {
	t.Parallel()
	inv := catalog(t, filepath.Join(fixtures, "npm"), sbom.Options{})
	a := write(t, inv, sbom.FormatCycloneDX, wopts(""))
	o := wopts("")
	o.Timestamp = stamp.Add(time.Second)
	b := write(t, inv, sbom.FormatCycloneDX, o)
	serial := func(d []byte) string {
		var v struct{ SerialNumber string }
		_ = json.Unmarshal(d, &v)
		return v.SerialNumber
	}
	if serial(a) == serial(b) || !strings.HasPrefix(serial(a), "urn:uuid:") {
		t.Fatalf("serials %s and %s", serial(a), serial(b))
	}
}

func TestReadRoundTrip(t *testing.T) {
	t.Parallel()
	inv := catalog(t, filepath.Join(fixtures, "npm"), sbom.Options{})
	for _, format := range sbom.Formats {
		back, got, err := sbom.Read(write(t, inv, format, wopts("")))
		if err != nil || got != format {
			t.Fatalf("%s: %v (%s)", format, err, got)
		}
		back.Normalize()
		if len(back.Components) != len(inv.Components) || back.Root.Name != inv.Root.Name {
			t.Fatalf("%s: %d components, root %q", format, len(back.Components), back.Root.Name)
		}
		for i, c := range inv.Components {
			bc := back.Components[i]
			if bc.PURL != c.PURL || bc.Scope != c.Scope || !slices.Equal(bc.Hashes, c.Hashes) || !slices.Equal(bc.Licenses, c.Licenses) {
				t.Errorf("%s: %+v came back as %+v", format, c, bc)
			}
			if !slices.Equal(back.Dependencies[bc.Ref], inv.Dependencies[c.Ref]) {
				t.Errorf("%s: edges of %s: %v, want %v", format, c.Ref, back.Dependencies[bc.Ref], inv.Dependencies[c.Ref])
			}
		}
	}
	if _, _, err := sbom.Read([]byte(`{"hello": "world"}`)); !errors.Is(err, sbom.ErrUnknownFormat) {
		t.Errorf("err = %v", err)
	}
}

func TestMergeAndDiff(t *testing.T) {
	t.Parallel()
	npm := catalog(t, filepath.Join(fixtures, "npm"), sbom.Options{})
	py := catalog(t, filepath.Join(fixtures, "poetry"), sbom.Options{})
	merged := sbom.Merge(sbom.Component{Type: "application", Name: "tars", Version: "v1.0.2"}, npm, py, npm)
	if len(merged.Components) != len(npm.Components)+len(py.Components)+2 {
		t.Fatalf("merged %d components, want %d", len(merged.Components), len(npm.Components)+len(py.Components)+2)
	}
	if !slices.Equal(merged.Dependencies[merged.Root.Ref], []string{npm.Root.Ref, py.Root.Ref}) {
		t.Errorf("merged root depends on %v", merged.Dependencies[merged.Root.Ref])
	}
	for _, format := range sbom.Formats {
		res, err := sbom.Validate(write(t, merged, format, wopts("")))
		if err != nil || !res.Valid() {
			t.Fatalf("merged %s: %v %+v", format, err, res)
		}
	}

	lock, _ := os.ReadFile(filepath.Join(fixtures, "npm", "package-lock.json"))
	s := strings.Replace(string(lock), `"version": "4.17.21"`, `"version": "4.17.22"`, 1)
	s = strings.Replace(s, `"node_modules/typescript"`, `"node_modules/left-pad"`, 1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	d := sbom.Diff(npm, catalog(t, dir, sbom.Options{}))
	want := &sbom.DiffResult{
		Added:   []sbom.DiffEntry{{Ecosystem: sbom.NPM, Name: "left-pad", Version: "5.1.6", PURL: "pkg:npm/left-pad@5.1.6"}},
		Removed: []sbom.DiffEntry{{Ecosystem: sbom.NPM, Name: "typescript", Version: "5.1.6", PURL: "pkg:npm/typescript@5.1.6"}},
		Changed: []sbom.Change{{Ecosystem: sbom.NPM, Name: "lodash", OldVersion: "4.17.21", NewVersion: "4.17.22"}},
	}
	gotJSON, _ := json.Marshal(d)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Fatalf("diff = %s\nwant %s", gotJSON, wantJSON)
	}
	if !sbom.Diff(npm, npm).Empty() {
		t.Error("an SBOM differs from itself")
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	inv := catalog(t, filepath.Join(fixtures, "npm"), sbom.Options{})

	var cdx map[string]any
	_ = json.Unmarshal(write(t, inv, sbom.FormatCycloneDX, wopts("")), &cdx)
	comps := cdx["components"].([]any)
	comps[0].(map[string]any)["type"] = "gadget"
	delete(comps[1].(map[string]any), "name")
	comps[2].(map[string]any)["bom-ref"] = comps[3].(map[string]any)["bom-ref"]
	deps := cdx["dependencies"].([]any)
	deps[0].(map[string]any)["dependsOn"] = append(deps[0].(map[string]any)["dependsOn"].([]any), "pkg:npm/ghost@1.0.0")
	broken, _ := json.Marshal(cdx)
	res, err := sbom.Validate(broken)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, p := range res.Problems {
		paths = append(paths, p.Path)
	}
	for _, want := range []string{"/components/0/type", "/components/1", "/components/3/bom-ref", "/dependencies/0/dependsOn/5"} {
		if !slices.Contains(paths, want) {
			t.Errorf("problems %v lack %s", res.Problems, want)
		}
	}

	var spdx map[string]any
	_ = json.Unmarshal(write(t, inv, sbom.FormatSPDX, wopts("")), &spdx)
	pkgs := spdx["packages"].([]any)
	delete(pkgs[1].(map[string]any), "downloadLocation")
	pkgs[2].(map[string]any)["SPDXID"] = pkgs[3].(map[string]any)["SPDXID"]
	delete(spdx, "creationInfo")
	broken, _ = json.Marshal(spdx)
	res, err = sbom.Validate(broken)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) < 3 {
		t.Fatalf("SPDX problems = %v", res.Problems)
	}
	joined := ""
	for _, p := range res.Problems {
		joined += p.String() + "\n"
	}
	for _, want := range []string{"downloadLocation", "is not unique", "creationInfo"} {
		if !strings.Contains(joined, want) {
			t.Errorf("SPDX problems lack %q:\n%s", want, joined)
		}
	}

	for _, bad := range []string{``, `[]`, `{"bomFormat":"CycloneDX","specVersion":"1.2"}`, `{"spdxVersion":"SPDX-2.2"}`} {
		if _, err := sbom.Validate([]byte(bad)); !errors.Is(err, sbom.ErrUnknownFormat) {
			t.Errorf("Validate(%q) err = %v, want ErrUnknownFormat", bad, err)
		}
	}
}

func TestNothingFound(t *testing.T) {
	t.Parallel()
	_, err := sbom.Catalog(t.Context(), sbom.Options{Path: t.TempDir()})
	if !errors.Is(err, sbom.ErrNothingFound) {
		t.Fatalf("err = %v", err)
	}
	_, err = sbom.Catalog(t.Context(), sbom.Options{Path: filepath.Join(t.TempDir(), "nope")})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func BenchmarkCatalogRepository(b *testing.B) {
	for b.Loop() {
		inv, err := sbom.Catalog(b.Context(), sbom.Options{Path: "../..", Name: "tars", Version: "v1.0.2", ModCache: sbom.ModCacheDir(os.Getenv)})
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range sbom.Formats {
			if err := sbom.Write(&bytes.Buffer{}, f, inv, wopts("")); err != nil {
				b.Fatal(err)
			}
		}
	}
}
