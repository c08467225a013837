package logfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRotation(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "svc.log")
	l, err := Open(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 20 {
		fmt.Fprintf(l, "line %02d 0123456789012345678\n", i) // 30 bytes
	}
	cur, _ := os.ReadFile(path)
	one, _ := os.ReadFile(path + ".1")
	two, _ := os.ReadFile(path + ".2")
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Error("kept more than 2 old files")
	}
	for name, b := range map[string][]byte{"current": cur, ".1": one, ".2": two} {
		if len(b) == 0 || len(b) > 100 {
			t.Errorf("%s is %d bytes, want 1..100", name, len(b))
		}
		if !strings.HasSuffix(string(b), "\n") {
			t.Errorf("%s has a split line: %q", name, b)
		}
	}
	if !strings.Contains(string(cur), "line 19") || !strings.Contains(string(one), "line 17") {
		t.Errorf("newest lines are not in the current file:\n%s\n--\n%s", cur, one)
	}
}

func TestAppendsToExisting(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "svc.log")
	os.WriteFile(path, []byte("old\n"), 0o640)
	l, err := Open(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("new\n"))
	l.Close()
	if b, _ := os.ReadFile(path); string(b) != "old\nnew\n" {
		t.Errorf("content %q", b)
	}
}
