package archtest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestImportRules is the check itself: the module's real package graph
// against [Rules].
func TestImportRules(t *testing.T) {
	t.Parallel()
	module, pkgs, err := Load(moduleRoot(t), Builds)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 20 || !slices.ContainsFunc(pkgs, func(p Package) bool { return p.Path == module+"/internal/cli/root" }) {
		t.Fatalf("go list found %d packages in %s, without internal/cli/root: the graph did not load", len(pkgs), module)
	}
	violations, stale := Check(module, pkgs, Rules, Exceptions)
	for _, v := range violations {
		t.Error(v)
	}
	for _, e := range stale {
		t.Errorf("exception %s imports %s (rule %q) no longer occurs: delete it from Exceptions in internal/archtest/rules.go", e.From, e.Import, e.Rule)
	}
}

// TestEachRuleCatchesItsViolation feeds a synthetic graph with one bad
// import per rule, plus imports each rule allows, to Check.
func TestEachRuleCatchesItsViolation(t *testing.T) {
	t.Parallel()
	const m = "example.com/m"
	tests := []struct {
		rule, from, imp string
	}{
		{"service-siblings", "internal/services/hypersync", "internal/services/orchestrator"},
		{"service-siblings", "internal/services/a/store", "internal/services/b"},
		{"cli-groups", "internal/cli/release", "internal/cli/sbom"},
		{"cli-groups", "internal/cli/deploy/airgap", "internal/cli/deploy/k8s"},
		{"cli-groups", "internal/cli/deploy/k8s", "internal/cli/deploy"},
		{"domain-no-cli", "internal/sbom", "internal/cli/sbom"},
		{"domain-no-cli", "internal/deploy/k8srunner", "internal/cmdutil"},
		{"domain-no-cli", "internal/backup", "internal/ui"},
		{"domain-no-cli", "internal/services/orchestrator", "internal/iostreams"},
		{"domain-no-cli", "internal/secrets", "github.com/spf13/cobra"},
		{"domain-no-cli", "internal/progress", "github.com/charmbracelet/lipgloss"},
		{"domain-no-services", "internal/triage", "internal/services/dashboardapi"},
		{"domain-no-services", "internal/secrets", "internal/services/orchestrator"},
		{"viper-in-config", "internal/cli/serve", "github.com/spf13/viper"},
		{"test-harness", "internal/cli/users", "internal/testenv"},
		{"test-harness", "internal/services/orchestrator", "internal/services/daemontest"},
		{"pkg-public", "pkg/verify", "internal/signing"},
		{"cmd-entry", "cmd/tarsctl-k8s", "internal/cli/deploy/k8s"},
	}
	for _, tt := range tests {
		t.Run(tt.rule+"/"+tt.from+"→"+tt.imp, func(t *testing.T) {
			t.Parallel()
			got, stale := Check(m, []Package{{Path: m + "/" + tt.from, Imports: []string{qualify(m, tt.imp)}}}, Rules, nil)
			if len(stale) != 0 {
				t.Fatalf("stale exceptions from none: %v", stale)
			}
			i := slices.IndexFunc(got, func(v Violation) bool { return v.Rule.Name == tt.rule })
			if i < 0 {
				t.Fatalf("%s importing %s: violations %v, want rule %q", tt.from, tt.imp, got, tt.rule)
			}
			msg := got[i].String()
			for _, want := range []string{tt.from, tt.imp, tt.rule, "fix: "} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not name %q", msg, want)
				}
			}
		})
	}
	// Every rule has a case above.
	for _, r := range Rules {
		if !slices.ContainsFunc(tests, func(tt struct{ rule, from, imp string }) bool { return tt.rule == r.Name }) {
			t.Errorf("rule %q has no violation case", r.Name)
		}
	}
}

// TestAllowedImports are the imports the rules let through.
func TestAllowedImports(t *testing.T) {
	t.Parallel()
	const m = "example.com/m"
	for _, tt := range []struct{ from, imp string }{
		{"internal/cli/root", "internal/cli/sbom"},               // root assembles the groups
		{"internal/cli/deploy", "internal/cli/deploy/k8s"},       // a group's own subgroup
		{"internal/cli/sbom", "internal/cmdutil"},                // command helpers
		{"internal/cli/sbom", "internal/sbom"},                   // domain
		{"internal/cli/sbom", "github.com/spf13/cobra"},          // commands are cobra
		{"internal/app", "internal/cli/root"},                    // app runs the tree
		{"internal/docgen", "internal/cli/root"},                 // docs from the real tree
		{"internal/cmdutil", "internal/ui"},                      // plumbing uses plumbing
		{"internal/services/hypersync", "internal/services"},     // the services' shared parent
		{"internal/services/a", "internal/services/a/store"},     // a service's own package
		{"internal/services/a", "internal/daemon"},               // what every daemon shares
		{"internal/services", "internal/config"},                 // the parent is domain
		{"internal/daemons", "internal/services/hypersync"},      // the daemon table wires them
		{"internal/triage", "internal/services"},                 // everyone reads the catalog
		{"internal/sbom", "internal/signing"},                    // domain uses domain
		{"internal/config", "github.com/spf13/viper"},            // config reads viper
		{"internal/testenv/golden", "internal/testenv"},          // a harness uses a harness
		{"pkg/client", "net/http"},                               // stdlib
		{"cmd/tarsctl", "internal/app"},                          // the entry point
		{"cmd/tarsctl-k8s", "internal/deploy/k8srunner"},         // a binary's domain set-up
		{"cmd/gen-docs", "internal/docgen"},                      // the docs generator
		{"internal/deploy/k8srunner", "internal/deploy/k8sapi"},  // domain
		{"internal/archtest", "os/exec"},                         // this package
		{"internal/cli/deploy/k8s", "internal/deploy/k8srunner"}, // a command on its domain
	} {
		got, _ := Check(m, []Package{{Path: m + "/" + tt.from, Imports: []string{qualify(m, tt.imp)}}}, Rules, nil)
		if len(got) != 0 {
			t.Errorf("%s importing %s: %v, want allowed", tt.from, tt.imp, got)
		}
	}
}

// TestExceptions: a listed violation passes, a stale exception is
// reported, and an exception covers only its own rule and edge.
func TestExceptions(t *testing.T) {
	t.Parallel()
	const m = "example.com/m"
	pkgs := []Package{
		{Path: m + "/internal/services/a", Imports: []string{m + "/internal/services/b", m + "/internal/services/c"}},
	}
	exc := []Exception{
		{Rule: "service-siblings", From: "internal/services/a", Import: "internal/services/b"},
		{Rule: "service-siblings", From: "internal/services/x", Import: "internal/services/y"},
	}
	got, stale := Check(m, pkgs, Rules, exc)
	if len(got) != 1 || got[0].Import != "internal/services/c" {
		t.Errorf("violations %v, want only a → c", got)
	}
	if len(stale) != 1 || stale[0].From != "internal/services/x" {
		t.Errorf("stale %v, want x → y", stale)
	}
}

// TestLoadFindsAPlantedViolation writes a module with a command group that
// imports another, and one whose bad import hides behind a build
// constraint, and runs the real loader and checker on it.
func TestLoadFindsAPlantedViolation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":                      "module example.com/planted\n\ngo 1.22\n",
		"internal/cli/a/a.go":         "package a\n\nimport _ \"example.com/planted/internal/cli/b\"\n",
		"internal/cli/b/b.go":         "package b\n",
		"internal/cli/b/b_test.go":    "package b\n\nimport _ \"example.com/planted/internal/cli/c\"\n", // tests are not checked
		"internal/cli/c/c.go":         "package c\n",
		"internal/dom/dom.go":         "package dom\n",
		"internal/dom/dom_windows.go": "package dom\n\nimport _ \"example.com/planted/internal/cmdutil\"\n",
		"internal/cmdutil/cmdutil.go": "package cmdutil\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	module, pkgs, err := Load(dir, Builds)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := Check(module, pkgs, Rules, nil)
	var lines []string
	for _, v := range got {
		lines = append(lines, v.From+" → "+v.Import+" ("+v.Rule.Name+")")
	}
	want := []string{
		"internal/cli/a → internal/cli/b (cli-groups)",
		"internal/dom → internal/cmdutil (domain-no-cli)",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("violations\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func qualify(module, path string) string {
	if strings.HasPrefix(path, "internal/") || strings.HasPrefix(path, "pkg/") || strings.HasPrefix(path, "cmd/") {
		return module + "/" + path
	}
	return path
}

// moduleRoot is the directory holding go.mod, above this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
