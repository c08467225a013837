package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileCreatesWithMode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "key")
	if err := WriteFile(path, []byte("secret"), Options{Perm: 0o600}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(path); string(b) != "secret" {
		t.Errorf("content = %q", b)
	}
}

func TestWriteFailureLeavesTargetAndNoTemp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(path, Options{}, func(w io.Writer) error {
		_, _ = w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("target changed to %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp file left behind: %v", entries)
	}
}

func TestNoOverwrite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f")
	if err := WriteFile(path, []byte("one"), Options{NoOverwrite: true}); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(path, []byte("two"), Options{NoOverwrite: true})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Errorf("content = %q, want one", b)
	}
	if err := WriteFile(path, []byte("three"), Options{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "three" {
		t.Errorf("content = %q, want three", b)
	}
}

func TestMakeDirs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		perm, dirPerm os.FileMode
	}{
		{"public file", 0o644, 0o755},
		{"secret", 0o600, 0o700},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			path := filepath.Join(root, "a", "b", "out.json")
			if err := WriteFile(path, []byte("x"), Options{Perm: tc.perm}); err == nil {
				t.Fatal("without MakeDirs a missing directory must be an error")
			}
			if err := WriteFile(path, []byte("x"), Options{Perm: tc.perm, MakeDirs: true}); err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{filepath.Join(root, "a"), filepath.Join(root, "a", "b")} {
				fi, err := os.Stat(d)
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm() &^ 0o022; got != tc.dirPerm&^0o022 {
					t.Errorf("%s: mode %v, want %v (before umask)", d, fi.Mode().Perm(), tc.dirPerm)
				}
			}
			if b, err := os.ReadFile(path); err != nil || string(b) != "x" {
				t.Errorf("read back: %q, %v", b, err)
			}
		})
	}
}
