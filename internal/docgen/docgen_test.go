package docgen

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// TestCommittedFilesAreFresh fails when docs/cli, docs/man or completions/
// differ from what the command tree generates: run `make docs completions`.
func TestCommittedFilesAreFresh(t *testing.T) {
	t.Parallel()
	want, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join("..", "..")
	var stale []string
	for rel, data := range want {
		got, err := os.ReadFile(filepath.Join(repo, rel))
		if err != nil || string(got) != string(data) {
			stale = append(stale, rel)
		}
	}
	for _, dir := range Dirs {
		entries, _ := os.ReadDir(filepath.Join(repo, dir))
		for _, e := range entries {
			rel := filepath.ToSlash(filepath.Join(dir, e.Name()))
			if _, ok := want[rel]; !ok {
				stale = append(stale, rel+" (no longer generated)")
			}
		}
	}
	if len(stale) > 0 {
		sort.Strings(stale)
		t.Errorf("generated files are stale; run `make docs completions` and commit:\n  %v", stale)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	t.Parallel()
	a, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("file count differs: %d vs %d", len(a), len(b))
	}
	for k := range a {
		if string(a[k]) != string(b[k]) {
			t.Errorf("%s differs between two runs", k)
		}
	}
	for _, f := range []string{"docs/cli/tarsctl_config_validate.md", "docs/man/tarsctl-config-show.1", "completions/tarsctl.bash", "docs/cli/tarsctl_help_exit-codes.md"} {
		if len(a[f]) == 0 {
			t.Errorf("%s not generated", f)
		}
	}
}
