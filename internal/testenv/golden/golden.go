// Package golden compares test output with files under testdata/, and
// rewrites them when tests run with -update.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/ with the current output")

// Assert compares got with testdata/<TestName>.golden (slashes in subtest
// names become underscores). With -update it writes got there instead.
func Assert(t testing.TB, got []byte) {
	t.Helper()
	AssertFile(t, strings.ReplaceAll(t.Name(), "/", "_")+".golden", got)
}

// AssertFile compares got with testdata/name.
func AssertFile(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file: %v (run `go test -run '%s' -update` to create it)", err, t.Name())
	}
	if string(want) != string(got) {
		t.Errorf("output differs from %s (run with -update to accept):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}
