package backup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestInitAndOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Open(dir); !errors.Is(err, ErrNotRepository) {
		t.Errorf("Open of an empty directory: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open of a missing directory: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(dir, fixedNow); !errors.Is(err, ErrNotRepository) || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Init in a non-empty directory: %v", err)
	}
	repo := filepath.Join(dir, "repo")
	r, err := Init(repo, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(repo); fi.Mode().Perm() != 0o700 {
		t.Errorf("repository mode %v, want 0700", fi.Mode().Perm())
	}
	if _, err := Init(repo, fixedNow); err != nil {
		t.Errorf("Init of an existing repository: %v", err)
	}
	if r2, err := Open(repo); err != nil || r2.Dir() != r.Dir() {
		t.Errorf("Open: %v", err)
	}
}

func TestFindAndList(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	src := t.TempDir()
	var ids []string
	for i, at := range []time.Time{fixedNow, fixedNow.Add(time.Hour), fixedNow.Add(-time.Hour)} {
		res, err := r.Create(t.Context(), CreateOptions{Sources: []Source{&DirSource{Name: "data", Path: src}}, Now: clock(at), Tags: []string{"t" + string(rune('0'+i))}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Set.ID)
		if !ValidID(res.Set.ID) || !strings.HasPrefix(res.Set.ID, at.Format("20060102-150405")) {
			t.Errorf("id %q", res.Set.ID)
		}
	}
	sets, err := r.List()
	if err != nil || len(sets) != 3 || sets[0].ID != ids[1] || sets[2].ID != ids[2] {
		t.Fatalf("List order wrong: %v", err)
	}
	for ref, want := range map[string]string{"latest": ids[1], ids[0]: ids[0], ids[2][:15]: ids[2]} {
		s, err := r.Find(ref)
		if err != nil || s.ID != want {
			t.Errorf("Find(%q) = %v, %v; want %s", ref, s, err, want)
		}
	}
	for _, ref := range []string{"2026", "nope", ""} {
		if _, err := r.Find(ref); !errors.Is(err, ErrSetNotFound) {
			t.Errorf("Find(%q): %v", ref, err)
		}
	}
	// A set with an unreadable manifest is listed, with its error.
	if err := os.Remove(filepath.Join(sets[0].Path, ManifestFile)); err != nil {
		t.Fatal(err)
	}
	sets, _ = r.List()
	if len(sets) != 3 || sets[0].Manifest != nil || !errors.Is(sets[0].Err, ErrManifest) || sets[0].Time().IsZero() {
		t.Errorf("damaged set: %+v", sets[0])
	}
	if _, err := r.Create(t.Context(), CreateOptions{Sources: []Source{&DirSource{Name: "data", Path: src}}, Tags: []string{"bad tag"}}); err == nil {
		t.Error("a bad tag was accepted")
	}
}

func TestLock(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	l, err := r.Lock("create", fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if l.Stale != nil {
		t.Errorf("fresh lock reports a stale one: %+v", l.Stale)
	}
	_, err = r.Lock("prune", fixedNow)
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || le.Holder.PID != os.Getpid() || le.Holder.Operation != "create" {
		t.Fatalf("second lock: %v", err)
	}
	if !strings.Contains(err.Error(), "locked by pid") || !strings.Contains(err.Error(), "backup create since 2026-01-28T02:00:00Z") {
		t.Errorf("message: %v", err)
	}
	if st, _ := r.LockState(); st.Holder == nil || st.Stale {
		t.Errorf("LockState while held: %+v", st)
	}
	// A second create in this process is refused too.
	if _, err := r.Create(t.Context(), CreateOptions{Sources: []Source{&DirSource{Name: "d", Path: t.TempDir()}}}); !errors.Is(err, ErrLocked) {
		t.Errorf("create while locked: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.LockState(); st.Holder != nil {
		t.Errorf("LockState after unlock: %+v", st)
	}
	l2, err := r.Lock("prune", fixedNow)
	if err != nil || l2.Stale != nil {
		t.Fatalf("lock after unlock: %v %+v", err, l2)
	}
	_ = l2.Unlock()

	// A record left in a free lock (its holder was killed) is reported.
	dead := `{"pid":999999999,"host":"` + hostname() + `","operation":"create","started":"2026-01-01T00:00:00Z"}`
	if err := os.WriteFile(filepath.Join(r.Dir(), lockFile), []byte(dead), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.LockState(); !st.Stale || st.Holder.PID != 999999999 {
		t.Errorf("LockState of a dead holder: %+v", st)
	}
	l3, err := r.Lock("create", fixedNow)
	if err != nil || l3.Stale == nil || l3.Stale.PID != 999999999 || l3.StaleAlive {
		t.Fatalf("take over a stale lock: %v %+v", err, l3)
	}
	_ = l3.Unlock()
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}
