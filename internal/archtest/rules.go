package archtest

import (
	"fmt"
	"slices"
	"strings"
)

// Rule is one import rule: packages matching From (and not Except) must
// not import anything matching Forbid, unless the import matches Allow or,
// with OwnSubtree, lies below the importing package itself.
//
// Patterns are module-relative ("internal/cli/...") for the module's own
// packages and full import paths ("github.com/spf13/cobra/...") for
// others. "P/..." matches P and everything below it; any other pattern
// matches exactly.
type Rule struct {
	// Name identifies the rule in messages and in [Exceptions].
	Name string
	// Says is the rule in one sentence, as a message prints it.
	Says string
	// Fix is what to do about a violation.
	Fix string

	From   []string
	Except []string
	Forbid []string
	Allow  []string
	// OwnSubtree allows imports of the importer's own subpackages: a
	// command group of its subgroups (internal/cli/deploy of
	// internal/cli/deploy/k8s), a service of its internal packages.
	OwnSubtree bool
}

// Rules are tarsctl's layering rules; [Check] applies them to the
// production (non-test) imports of every package. docs/contributing-layout.md
// explains them.
var Rules = []Rule{
	{
		Name: "service-siblings",
		Says: "a service daemon package never imports another service's package",
		Fix: "move what both services need into a shared package that is not a service (internal/services itself, " +
			"internal/auth, internal/daemon, or a new domain package), or into pkg/client when it is the services' wire format",
		From:   []string{"internal/services/..."},
		Except: []string{"internal/services"},
		Forbid: []string{"internal/services/..."},
		// The parent is what every service shares; daemontest is not a
		// service but a harness, which rule test-harness keeps to tests.
		Allow:      []string{"internal/services", "internal/services/daemontest/..."},
		OwnSubtree: true,
	},
	{
		Name: "cli-groups",
		Says: "a command group never imports another command group (only internal/cli/root assembles them; a group may import its own subgroups)",
		Fix: "move the shared code out of internal/cli: domain logic into its domain package (internal/sbom, internal/provenance, " +
			"internal/deploy/..., ...), command helpers (flags, prompts, error classification) into internal/cmdutil",
		From:       []string{"internal/cli/..."},
		Except:     []string{"internal/cli/root"},
		Forbid:     []string{"internal/cli/..."},
		OwnSubtree: true,
	},
	{
		Name: "domain-no-cli",
		Says: "a domain package never imports the command layer (internal/cli, internal/cmdutil), the terminal layer " +
			"(internal/iostreams, internal/ui, lipgloss, termenv) or cobra",
		Fix: "return values and errors (sentinels or typed errors the command maps to an exit code in internal/cmdutil), " +
			"take an io.Writer or report through internal/progress, and let the command print",
		From: []string{"internal/..."},
		Except: []string{
			"internal/app", "internal/cli/...", "internal/cmdutil/...", "internal/iostreams/...", "internal/ui/...",
			"internal/docgen/...", "internal/testenv/...",
		},
		Forbid: []string{
			"internal/cli/...", "internal/cmdutil/...", "internal/iostreams/...", "internal/ui/...", "internal/app/...",
			"github.com/spf13/cobra/...", "github.com/charmbracelet/...", "github.com/muesli/termenv/...",
		},
	},
	{
		Name: "domain-no-services",
		Says: "a domain package never imports a service daemon's package; only the daemon table (internal/daemons), " +
			"the command layer and other code of the same service do",
		Fix: "move the type or function both need out of the service: a wire type into pkg/client, a file format or rule " +
			"into its own domain package (internal/audit, internal/compliance, internal/store)",
		From:   []string{"internal/..."},
		Except: []string{"internal/services/...", "internal/daemons/...", "internal/cli/...", "internal/app/...", "internal/docgen/..."},
		Forbid: []string{"internal/services/..."},
		// The catalog is every package's to read; the harness is for tests,
		// which rule test-harness checks.
		Allow: []string{"internal/services", "internal/services/daemontest/..."},
	},
	{
		Name:   "viper-in-config",
		Says:   "only internal/config reads configuration with viper; everything else gets the typed *config.Config",
		Fix:    "take a *config.Config (or the few values needed) as an input; add a key to internal/config if one is missing",
		From:   []string{"internal/...", "pkg/...", "cmd/..."},
		Except: []string{"internal/config/..."},
		Forbid: []string{"github.com/spf13/viper/..."},
	},
	{
		Name:   "test-harness",
		Says:   "only tests import the test harnesses (internal/testenv, internal/services/daemontest)",
		Fix:    "import the harness from a _test.go file; code that production needs does not belong in a harness",
		From:   []string{"..."},
		Except: []string{"internal/testenv/...", "internal/services/daemontest/..."},
		Forbid: []string{"internal/testenv/...", "internal/services/daemontest/..."},
	},
	{
		Name:   "pkg-public",
		Says:   "pkg/ is tarsctl's public API and never imports internal/",
		Fix:    "move what pkg/ needs into pkg/ (it becomes public API), or keep the caller in internal/",
		From:   []string{"pkg/..."},
		Forbid: []string{"internal/..."},
	},
	{
		Name:   "cmd-entry",
		Says:   "a main package under cmd/ never imports a command group; it runs internal/app (or internal/docgen)",
		Fix:    "put what the binary needs to set up in a domain package (the Kubernetes runner is in internal/deploy/k8srunner) and call internal/app",
		From:   []string{"cmd/..."},
		Forbid: []string{"internal/cli/..."},
	},
}

// Exception is a known violation kept on purpose for a while. Each one
// must still occur: [Check] reports an exception that no longer matches
// anything, so the table shrinks as the code is fixed.
type Exception struct {
	Rule, From, Import string
	Why                string
}

// Exceptions are today's known violations: none. Add one only with the
// issue that removes it in Why.
var Exceptions = []Exception{}

// Package is one package of the graph: its import path and the import
// paths of its non-test files.
type Package struct {
	Path    string
	Imports []string
}

// Violation is one import that breaks a rule.
type Violation struct {
	Rule   *Rule
	From   string // module-relative
	Import string // module-relative for the module's own packages
}

func (v Violation) String() string {
	return fmt.Sprintf("%s imports %s: breaks rule %q (%s); fix: %s", v.From, v.Import, v.Rule.Name, v.Rule.Says, v.Rule.Fix)
}

// Check applies rules to pkgs, the packages of module, and returns every
// violation not covered by exceptions, sorted, plus the exceptions that
// matched nothing (stale ones to delete).
func Check(module string, pkgs []Package, rules []Rule, exceptions []Exception) (violations []Violation, stale []Exception) {
	used := make([]bool, len(exceptions))
	for _, p := range pkgs {
		from, ok := relative(module, p.Path)
		if !ok {
			continue
		}
		for _, imp := range p.Imports {
			to, _ := relative(module, imp)
			for i := range rules {
				r := &rules[i]
				if !r.breaks(from, to) {
					continue
				}
				if j := slices.IndexFunc(exceptions, func(e Exception) bool {
					return e.Rule == r.Name && e.From == from && e.Import == to
				}); j >= 0 {
					used[j] = true
					continue
				}
				violations = append(violations, Violation{Rule: r, From: from, Import: to})
			}
		}
	}
	for i, e := range exceptions {
		if !used[i] {
			stale = append(stale, e)
		}
	}
	slices.SortFunc(violations, func(a, b Violation) int {
		return strings.Compare(a.From+" "+a.Import+" "+a.Rule.Name, b.From+" "+b.Import+" "+b.Rule.Name)
	})
	return violations, stale
}

// breaks reports whether from importing to breaks r.
func (r *Rule) breaks(from, to string) bool {
	if !matchAny(r.From, from) || matchAny(r.Except, from) {
		return false
	}
	if !matchAny(r.Forbid, to) || matchAny(r.Allow, to) {
		return false
	}
	if r.OwnSubtree && under(to, from) {
		return false
	}
	return true
}

// relative returns path relative to module, and whether it is in module.
func relative(module, path string) (string, bool) {
	if path == module {
		return ".", true
	}
	if rest, ok := strings.CutPrefix(path, module+"/"); ok {
		return rest, true
	}
	return path, false
}

func matchAny(patterns []string, path string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, path) })
}

// match reports whether path matches pattern: "..." matches everything,
// "P/..." matches P and below it, anything else only itself.
func match(pattern, path string) bool {
	if pattern == "..." {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
		return under(path, prefix)
	}
	return path == pattern
}

// under reports whether path is dir or below it.
func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}
