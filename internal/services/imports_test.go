package services_test

import (
	"go/parser"
	gotoken "go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDaemonsDoNotImportEachOther: no package under internal/services,
// tests included, imports another daemon's package. What they share is in
// internal/serviceapi (and domain packages such as internal/agentspec);
// tests that need several daemons live in this package. The catalog
// (internal/services) and the test harness (daemontest) may be imported.
func TestDaemonsDoNotImportEachOther(t *testing.T) {
	t.Parallel()
	const prefix = "github.com/tars-ops/tarsctl/internal/services/"
	allowed := map[string]bool{"daemontest": true}
	dirs, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "testdata" {
			continue
		}
		files, err := filepath.Glob(filepath.Join(d.Name(), "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			f, err := parser.ParseFile(gotoken.NewFileSet(), file, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				other, ok := strings.CutPrefix(path, prefix)
				if !ok {
					continue
				}
				other, _, _ = strings.Cut(other, "/")
				if other != d.Name() && !allowed[other] {
					t.Errorf("%s imports %s: daemons do not import each other; share code through internal/serviceapi or a domain package", file, path)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no Go files found under internal/services")
	}
}
