package keys

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/crypto"
)

// makeData fills dir with n encrypted files under key, in a few
// subdirectories, plus one plaintext file, and returns each file's
// plaintext by path.
func makeData(t testing.TB, dir string, n int, key []byte) map[string][]byte {
	t.Helper()
	want := map[string][]byte{}
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("agent-%d", i%7))
		if err := os.MkdirAll(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		plain := bytes.Repeat([]byte(fmt.Sprintf("checkpoint %d;", i)), 1+i%300)
		p := filepath.Join(sub, fmt.Sprintf("ckpt-%05d.bin", i))
		var buf bytes.Buffer
		w, err := crypto.NewWriter(&buf, key)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(plain)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		want[p] = plain
	}
	plain := filepath.Join(dir, "tars.db")
	if err := os.WriteFile(plain, []byte("SQLite format 3\x00 not encrypted"), 0o600); err != nil {
		t.Fatal(err)
	}
	want[plain] = nil // left alone: checked by content
	return want
}

// checkData asserts every file opens with key alone to its plaintext.
func checkData(t testing.TB, want map[string][]byte, key []byte) {
	t.Helper()
	ring, _ := crypto.NewKeyring(key)
	for p, plain := range want {
		f, err := os.Open(p)
		if err != nil {
			t.Fatalf("file lost: %v", err)
		}
		if plain == nil {
			b, _ := io.ReadAll(f)
			f.Close()
			if !bytes.HasPrefix(b, []byte("SQLite")) {
				t.Errorf("%s: plaintext file modified", p)
			}
			continue
		}
		r, err := crypto.NewReader(f, ring)
		if err != nil {
			f.Close()
			t.Fatalf("%s: %v", p, err)
		}
		got, err := io.ReadAll(r)
		f.Close()
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%s: content differs (double-encrypted or damaged): %v", p, err)
		}
	}
}

// snapshot hashes every file under dir, to prove nothing changed.
func snapshot(t testing.TB, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			out[p] = sha256.Sum256(b)
		}
		return err
	})
	return out
}

func sameSnapshot(t testing.TB, a, b map[string][32]byte) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("file count changed: %d → %d", len(a), len(b))
	}
	for p, h := range a {
		if b[p] != h {
			t.Fatalf("%s modified", p)
		}
	}
}

func TestRotate(t *testing.T) {
	t.Parallel()
	dir, keyDir := t.TempDir(), t.TempDir()
	oldPath := filepath.Join(keyDir, "old.key")
	oldKey, newKey := writeKey(t, oldPath), NewAESKey()
	want := makeData(t, dir, 60, oldKey)
	ctx := context.Background()

	before := snapshot(t, dir)
	plan, err := Rotate(ctx, RotateOptions{DataDir: dir, OldKey: oldKey, NewKey: newKey, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if plan.ToMigrate != 60 || plan.Plaintext != 1 || plan.Migrated != 0 || plan.Files != 61 {
		t.Errorf("plan %+v", plan.Plan)
	}
	sameSnapshot(t, before, snapshot(t, dir))

	res, err := Rotate(ctx, RotateOptions{DataDir: dir, OldKey: oldKey, NewKey: newKey, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rewritten != 60 || res.Verified != 60 || res.OldKeyRetired {
		t.Errorf("result %+v", res)
	}
	checkData(t, want, newKey)
	j, err := ReadJournal(dir)
	if err != nil || j.Phase != PhaseDone || j.OldKeyID != crypto.KeyID(oldKey) {
		t.Fatalf("journal %+v %v", j, err)
	}
	var phases []string
	for _, p := range j.Phases {
		phases = append(phases, string(p.Phase))
	}
	if got := strings.Join(phases, ","); got != "expand,switch,migrate,verify,done" {
		t.Errorf("phases %s", got)
	}
	b, _ := os.ReadFile(filepath.Join(dir, JournalName))
	if bytes.Contains(b, []byte(fmt.Sprintf("%x", oldKey))) || bytes.Contains(b, []byte(fmt.Sprintf("%x", newKey))) {
		t.Error("journal holds key material")
	}

	// Again: nothing to do; then contract retires the old key.
	res, err = Rotate(ctx, RotateOptions{DataDir: dir, OldKey: oldKey, NewKey: newKey, OldKeyPath: oldPath, RetireOld: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rewritten != 0 || res.Migrated != 60 || !res.OldKeyRetired {
		t.Errorf("second run %+v", res)
	}
	if _, err := os.Stat(oldPath); !errors.Is(err, fs.ErrNotExist) {
		t.Error("old key not removed")
	}
	checkData(t, want, newKey)
}

func TestRotateRefusesAndModifiesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("wrong old key", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		realKey := NewAESKey()
		makeData(t, dir, 10, realKey)
		before := snapshot(t, dir)
		_, err := Rotate(ctx, RotateOptions{DataDir: dir, OldKey: NewAESKey(), NewKey: NewAESKey()})
		var fe *ForeignFilesError
		if !errors.As(err, &fe) || !fe.WrongOldKey || len(fe.Files) != 10 {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), fmt.Sprintf("%x", realKey)) {
			t.Error("error holds key material")
		}
		sameSnapshot(t, before, snapshot(t, dir))
	})
	t.Run("foreign file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		oldKey := NewAESKey()
		makeData(t, dir, 10, oldKey)
		makeData(t, filepath.Join(dir, "other"), 1, NewAESKey())
		before := snapshot(t, dir)
		_, err := Rotate(ctx, RotateOptions{DataDir: dir, OldKey: oldKey, NewKey: NewAESKey()})
		var fe *ForeignFilesError
		if !errors.As(err, &fe) || fe.WrongOldKey || len(fe.Files) != 1 || !strings.Contains(err.Error(), "other") {
			t.Fatalf("err = %v", err)
		}
		sameSnapshot(t, before, snapshot(t, dir))
	})
	t.Run("keys swapped", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		oldKey, newKey := NewAESKey(), NewAESKey()
		makeData(t, dir, 5, newKey)
		before := snapshot(t, dir)
		if _, err := Rotate(ctx, RotateOptions{DataDir: dir, OldKey: oldKey, NewKey: newKey}); !errors.Is(err, ErrKeysSwapped) {
			t.Fatalf("err = %v", err)
		}
		sameSnapshot(t, before, snapshot(t, dir))
	})
	t.Run("symlink", func(t *testing.T) {
		t.Parallel()
		dir, outside := t.TempDir(), t.TempDir()
		oldKey := NewAESKey()
		makeData(t, dir, 3, oldKey)
		makeData(t, outside, 1, oldKey)
		entries, _ := os.ReadDir(outside)
		if err := os.Symlink(filepath.Join(outside, entries[0].Name()), filepath.Join(dir, "link.enc")); err != nil {
			t.Fatal(err)
		}
		before, beforeOutside := snapshot(t, dir), snapshot(t, outside)
		_, err := Rotate(ctx, RotateOptions{DataDir: dir, OldKey: oldKey, NewKey: NewAESKey()})
		var fe *ForeignFilesError
		if !errors.As(err, &fe) || len(fe.Files) != 1 || !strings.Contains(err.Error(), "symbolic link") {
			t.Fatalf("err = %v", err)
		}
		sameSnapshot(t, before, snapshot(t, dir))
		sameSnapshot(t, beforeOutside, snapshot(t, outside))
	})
	t.Run("damaged header", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		oldKey := NewAESKey()
		makeData(t, dir, 3, oldKey)
		_ = os.WriteFile(filepath.Join(dir, "cut.bin"), []byte(crypto.Magic+"\x01"), 0o600)
		before := snapshot(t, dir)
		if _, err := Rotate(ctx, RotateOptions{DataDir: dir, OldKey: oldKey, NewKey: NewAESKey()}); !errors.Is(err, ErrForeignFiles) {
			t.Fatalf("err = %v", err)
		}
		sameSnapshot(t, before, snapshot(t, dir))
	})
	t.Run("missing data dir", func(t *testing.T) {
		t.Parallel()
		if _, err := Rotate(ctx, RotateOptions{DataDir: filepath.Join(t.TempDir(), "none"), OldKey: NewAESKey(), NewKey: NewAESKey()}); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("same key", func(t *testing.T) {
		t.Parallel()
		k := NewAESKey()
		if _, err := Rotate(ctx, RotateOptions{DataDir: t.TempDir(), OldKey: k, NewKey: k}); !errors.Is(err, ErrSameKey) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("other rotation in progress", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		a, b := NewAESKey(), NewAESKey()
		makeData(t, dir, 3, a)
		if err := writeJournal(dir, &Journal{Version: JournalVersion, OldKeyID: crypto.KeyID(a), NewKeyID: "0123456789abcdef", Phase: PhaseSwitch}); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, dir)
		if _, err := Rotate(ctx, RotateOptions{DataDir: dir, OldKey: a, NewKey: b}); !errors.Is(err, ErrRotationInProgress) {
			t.Fatalf("err = %v", err)
		}
		sameSnapshot(t, before, snapshot(t, dir))
	})
}

func TestRotateDamagedFileKeepsOriginal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	oldKey, newKey := NewAESKey(), NewAESKey()
	makeData(t, dir, 5, oldKey)
	p := filepath.Join(dir, "agent-0", "ckpt-00000.bin")
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 0xff
	_ = os.WriteFile(p, b, 0o600)
	_, err := Rotate(context.Background(), RotateOptions{DataDir: dir, OldKey: oldKey, NewKey: newKey, Workers: 1})
	if !errors.Is(err, crypto.ErrAuthentication) || !strings.Contains(err.Error(), p) {
		t.Fatalf("err = %v", err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, b) {
		t.Error("damaged original replaced")
	}
	j, _ := ReadJournal(dir)
	if j == nil || j.Phase != PhaseSwitch {
		t.Errorf("journal %+v, want phase switch", j)
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "agent-0", "*"+tempMarker+"*"))
	if len(entries) != 0 {
		t.Errorf("temp files left: %v", entries)
	}
}

func TestRotateRemovesStaleTemps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	oldKey, newKey := NewAESKey(), NewAESKey()
	want := makeData(t, dir, 4, oldKey)
	stale := []string{
		filepath.Join(dir, "agent-1", ".ckpt-00001.bin"+tempMarker+"123"),
		filepath.Join(dir, "."+JournalName+".tmp-456"),
	}
	for _, p := range stale {
		if err := os.WriteFile(p, []byte(crypto.Magic+"partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Rotate(context.Background(), RotateOptions{DataDir: dir, OldKey: oldKey, NewKey: newKey})
	if err != nil {
		t.Fatal(err)
	}
	if res.StaleTemps != 2 || res.Files != 5 {
		t.Errorf("plan %+v", res.Plan)
	}
	for _, p := range stale {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s not removed", p)
		}
	}
	checkData(t, want, newKey)
}
