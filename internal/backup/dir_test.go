package backup

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostileTar builds a tar stream with one harmless file and then h.
func hostileTar(t *testing.T, h *tar.Header) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: "ok.txt", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write([]byte("ok"))
	if err := tw.WriteHeader(h); err != nil {
		t.Fatal(err)
	}
	if h.Size > 0 {
		_, _ = tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestHostileArchives checks that a directory part holding an entry that
// would escape the target is refused by verify and by restore, with a
// message naming the entry, and that nothing at all is restored — not even
// the harmless entry before it.
func TestHostileArchives(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    tar.Header
		msg  string
	}{
		{"dot-dot", tar.Header{Name: "../escape.txt", Mode: 0o644, Size: 4, Typeflag: tar.TypeReg}, `"../escape.txt" contains ".."`},
		{"dot-dot inside", tar.Header{Name: "a/../../escape.txt", Mode: 0o644, Size: 4, Typeflag: tar.TypeReg}, `contains ".."`},
		{"absolute", tar.Header{Name: "/tmp/escape.txt", Mode: 0o644, Size: 4, Typeflag: tar.TypeReg}, `"/tmp/escape.txt" is an absolute path`},
		{"symlink absolute", tar.Header{Name: "link", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink, Mode: 0o777}, `symlink "link" → "/etc/passwd" is absolute`},
		{"symlink out", tar.Header{Name: "sub/link", Linkname: "../../outside", Typeflag: tar.TypeSymlink, Mode: 0o777}, `points outside the directory`},
		{"hard link", tar.Header{Name: "hard", Linkname: "ok.txt", Typeflag: tar.TypeLink}, `is a hard link`},
		{"device", tar.Header{Name: "dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}, `entry type`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRepo(t)
			s := create(t, r, nil, &rawSource{
				spec: PartSpec{Name: "dir-data", Kind: KindDir, Format: FormatTar, Source: "hostile", Ext: ".tar", Compress: true},
				data: hostileTar(t, &tt.h), entries: 2,
			})
			rep, err := r.Verify(t.Context(), s, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || !errors.Is(rep.Parts[0].Err, ErrUnsafeArchive) || !strings.Contains(rep.Parts[0].Err.Error(), tt.msg) {
				t.Errorf("verify: %v, want %v with %q", rep.Parts[0].Err, ErrUnsafeArchive, tt.msg)
			}
			parent := t.TempDir()
			target := filepath.Join(parent, "restore")
			_, err = r.Restore(t.Context(), s, RestoreOptions{Targets: map[string]Target{"dir-data": &DirTarget{Path: target}}})
			if !errors.Is(err, ErrUnsafeArchive) || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), "refusing to restore") {
				t.Errorf("restore: %v, want %v with %q", err, ErrUnsafeArchive, tt.msg)
			}
			entries, _ := os.ReadDir(parent)
			if len(entries) != 0 {
				t.Errorf("restore wrote %v next to the target", entries)
			}
			if _, err := os.Stat("/tmp/escape.txt"); err == nil {
				t.Error("/tmp/escape.txt exists")
			}
		})
	}
}

// TestDirTargetStaysInside hands DirTarget.Restore a hostile archive
// directly, past the checks Repository.Restore makes first: checkEntry and
// os.Root still keep every write inside the target.
func TestDirTargetStaysInside(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	target := filepath.Join(parent, "restore")
	for _, h := range []tar.Header{
		{Name: "../escape.txt", Mode: 0o644, Size: 4, Typeflag: tar.TypeReg},
		{Name: "link", Linkname: "..", Typeflag: tar.TypeSymlink},
	} {
		_, err := (&DirTarget{Path: target, Force: true}).Restore(t.Context(), bytes.NewReader(hostileTar(t, &h)), Part{})
		if !errors.Is(err, ErrUnsafeArchive) {
			t.Errorf("%s: %v, want %v", h.Name, err, ErrUnsafeArchive)
		}
	}
	if _, err := os.Stat(filepath.Join(parent, "escape.txt")); err == nil {
		t.Error("escape.txt was written outside the target")
	}
}

func TestDirSourceRefusesSymlinkOut(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"/etc/passwd", "../../outside"} {
		dir := t.TempDir()
		if err := os.Symlink(target, filepath.Join(dir, "link")); err != nil {
			t.Fatal(err)
		}
		r := newRepo(t)
		_, err := r.Create(t.Context(), CreateOptions{Sources: []Source{&DirSource{Name: "data", Path: dir}}})
		if !errors.Is(err, ErrUnsafeArchive) || !strings.Contains(err.Error(), "symlink link → "+target) || !strings.Contains(err.Error(), "part dir-data") {
			t.Errorf("symlink to %s: %v", target, err)
		}
		if sets, _ := r.List(); len(sets) != 0 {
			t.Error("a failed backup left a set")
		}
		if inc, _ := r.Incomplete(); len(inc) != 0 {
			t.Errorf("a failed backup left %v in tmp/", inc)
		}
	}
	_, err := (&DirSource{Name: "x", Path: filepath.Join(t.TempDir(), "missing")}).Dump(t.Context(), &bytes.Buffer{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing directory: %v", err)
	}
}

func TestDirTargetNotEmpty(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRepo(t)
	s := create(t, r, nil, &DirSource{Name: "data", Path: src})
	target := t.TempDir()
	if err := os.WriteFile(filepath.Join(target, "f"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "other"), []byte("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := r.Restore(t.Context(), s, RestoreOptions{Targets: map[string]Target{"dir-data": &DirTarget{Path: target}}})
	if !errors.Is(err, ErrTargetNotEmpty) || !strings.Contains(err.Error(), "holds 2 entries") {
		t.Errorf("restore into a non-empty directory: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "f")); string(b) != "old" {
		t.Error("a refused restore changed the target")
	}
	if _, err := r.Restore(t.Context(), s, RestoreOptions{Targets: map[string]Target{"dir-data": &DirTarget{Path: target, Force: true}}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "f")); string(b) != "new" {
		t.Errorf("forced restore: f = %q, want new", b)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "other")); string(b) != "other" {
		t.Errorf("forced restore removed a file the backup does not have")
	}
}

func TestDirSkipsSpecialFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	makeTree(t, dir)
	s := create(t, newRepo(t), nil, &DirSource{Name: "data", Path: dir})
	p := s.Manifest.Parts[0]
	if len(p.Skipped) != 1 || p.Skipped[0] != "fifo (named pipe)" {
		t.Errorf("Skipped = %v", p.Skipped)
	}
	if p.Entries != 19 || p.RawSize < 3<<20 || p.Size >= p.RawSize {
		t.Errorf("part = %+v", p)
	}
}
