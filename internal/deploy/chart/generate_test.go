package chart

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/services"
)

// staleFiles lists the committed generated files that differ from what
// entries generate.
func staleFiles(t *testing.T, entries []services.Entry) []string {
	t.Helper()
	files, err := embeddedFiles()
	if err != nil {
		t.Fatal(err)
	}
	committed := map[string][]byte{}
	want := map[string][]byte{}
	for _, f := range files {
		committed[f.Name], want[f.Name] = f.Data, f.Data
	}
	if err := generate(want, entries); err != nil {
		t.Fatal(err)
	}
	var stale []string
	for _, name := range []string{servicesFile, valuesFile, schemaFile} {
		if !bytes.Equal(committed[name], want[name]) {
			stale = append(stale, name)
		}
	}
	return stale
}

// The committed _services.tpl, values.yaml daemon blocks and schema
// properties are what the service catalog generates (`make docs` writes
// them). The subtest plants a catalog with one more daemon: the same
// check then reports every file stale.
func TestGeneratedFilesAreFresh(t *testing.T) {
	t.Parallel()
	if stale := staleFiles(t, services.All()); len(stale) > 0 {
		t.Fatalf("generated chart files are stale; run `make docs` and commit: %v", stale)
	}
	t.Run("planted: a daemon the files do not list", func(t *testing.T) {
		t.Parallel()
		more := append(services.All(), services.Entry{Name: "synthetic-extra", APIPort: 18961, Kind: services.Deployment})
		if stale := staleFiles(t, more); len(stale) != 3 {
			t.Fatalf("stale = %v, want all three files", stale)
		}
	})
}

func TestSpliceNeedsItsMarkers(t *testing.T) {
	t.Parallel()
	if _, err := spliceValues([]byte("replicaCount: 3\n"), services.All()); err == nil || !strings.Contains(err.Error(), "BEGIN daemons") {
		t.Errorf("values without markers: %v", err)
	}
	if _, err := spliceSchema([]byte("{}\n"), services.All()); err == nil || !strings.Contains(err.Error(), "replicaCount") {
		t.Errorf("schema without the anchor: %v", err)
	}
}
