package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/auth"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readPrev(t *testing.T, path string) []auth.PreviousSecret {
	t.Helper()
	p, err := auth.ReadPrevious(path + PreviousSuffix)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRotateJWTGrace walks the life of the previous-secrets file: a
// graceful rotation keeps the old secret with its end; a second one keeps
// both; an immediate cut drops every grace entry and keeps one
// rollback-only entry; entries past their end are dropped and a rollback
// to one fails.
func TestRotateJWTGrace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "jwt_secret")
	writeFile(t, path, "secret-A-secret-A-secret-A-secret-A\n")
	t0 := time.Unix(1_800_000_000, 0).UTC()

	r1, err := RotateJWT(path, JWTRotateOptions{Grace: time.Hour, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if string(r1.Was) != "secret-A-secret-A-secret-A-secret-A" || len(r1.Now) != 44 || !r1.VerifyUntil.Equal(t0.Add(time.Hour)) {
		t.Fatalf("first rotation: %+v", r1)
	}
	r2, err := RotateJWT(path, JWTRotateOptions{Grace: 2 * time.Hour, Now: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	prev := readPrev(t, path)
	if len(prev) != 2 || !bytes.Equal(prev[0].Secret, r1.Now) || !bytes.Equal(prev[1].Secret, r1.Was) ||
		!prev[1].VerifyUntil.Equal(t0.Add(time.Hour)) || prev[0].KeyID != auth.KeyID(r1.Now) {
		t.Fatalf("after two graceful rotations: %+v", prev)
	}
	if fi, _ := os.Stat(path + PreviousSuffix); fi.Mode().Perm() != 0o600 {
		t.Errorf("previous file mode %v", fi.Mode())
	}
	raw, _ := os.ReadFile(path + PreviousSuffix)
	if strings.Contains(string(raw), string(r1.Was)) {
		t.Error("previous file holds a secret in the clear; want base64")
	}

	// An hour later the first grace period is over: the next rotation
	// drops A (an immediate cut, which also ends B's grace period).
	r3, err := RotateJWT(path, JWTRotateOptions{Now: t0.Add(61 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	prev = readPrev(t, path)
	if r3.Dropped != 2 || len(prev) != 1 || !bytes.Equal(prev[0].Secret, r2.Now) || !prev[0].VerifyUntil.IsZero() {
		t.Fatalf("after the cut: dropped %d, %+v", r3.Dropped, prev)
	}
	if len(auth.VerifyKeys(prev, t0)) != 0 {
		t.Error("an immediate cut left a secret that verifies")
	}
	raw, _ = os.ReadFile(path + PreviousSuffix)
	for _, p := range [][]byte{r1.Was, r1.Now} {
		if bytes.Contains(raw, []byte(base64.StdEncoding.EncodeToString(p))) {
			t.Error("dropped secret left in the file")
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.shred-*")); len(m) != 0 {
		t.Errorf("shred links left: %v", m)
	}

	// Rollback restores the rollback-only entry, kept indefinitely.
	rb, err := RotateJWT(path, JWTRotateOptions{Rollback: true, Now: t0.Add(48 * time.Hour)})
	if err != nil || !bytes.Equal(rb.Now, r2.Now) {
		t.Fatalf("rollback: %v", err)
	}
	if got, _ := readSecret(path); !bytes.Equal(got, r2.Now) {
		t.Error("rollback did not restore the secret")
	}
}

func TestRotateJWTRollbackAfterGrace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "jwt_secret")
	writeFile(t, path, "secret-A-secret-A-secret-A-secret-A\n")
	t0 := time.Unix(1_800_000_000, 0)
	r, err := RotateJWT(path, JWTRotateOptions{Grace: time.Minute, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	// Within the grace period rollback works and the rotated-out secret
	// becomes the rollback-only entry.
	rb, err := RotateJWT(path, JWTRotateOptions{Rollback: true, Now: t0.Add(30 * time.Second)})
	if err != nil || string(rb.Now) != "secret-A-secret-A-secret-A-secret-A" {
		t.Fatalf("rollback in grace: %v", err)
	}
	if prev := readPrev(t, path); len(prev) != 1 || !bytes.Equal(prev[0].Secret, r.Now) || !prev[0].VerifyUntil.IsZero() {
		t.Fatalf("after rollback: %+v", prev)
	}

	// A graceful rotation whose grace period is over cannot be rolled back.
	if _, err := RotateJWT(path, JWTRotateOptions{Grace: time.Minute, Now: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	_, err = RotateJWT(path, JWTRotateOptions{Rollback: true, Now: t0.Add(2 * time.Hour)})
	if !errors.Is(err, ErrNoPrevious) || !strings.Contains(err.Error(), "grace period") {
		t.Errorf("rollback after the grace period: %v", err)
	}
}

// TestRotateJWTLegacyPrevious: a previous file in the plain format of
// earlier versions is the rollback target.
func TestRotateJWTLegacyPrevious(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "jwt_secret")
	writeFile(t, path, "secret-B-secret-B-secret-B-secret-B\n")
	writeFile(t, path+PreviousSuffix, "secret-A-secret-A-secret-A-secret-A\n")
	r, err := RotateJWT(path, JWTRotateOptions{Rollback: true})
	if err != nil || string(r.Now) != "secret-A-secret-A-secret-A-secret-A" {
		t.Fatalf("rollback to a plain previous file: %v", err)
	}
	writeFile(t, path+PreviousSuffix, "{not json")
	if _, err := RotateJWT(path, JWTRotateOptions{}); err == nil || !strings.Contains(err.Error(), "remove the file") {
		t.Errorf("corrupt previous file: %v", err)
	}
	if got, _ := readSecret(path); string(got) != "secret-A-secret-A-secret-A-secret-A" {
		t.Error("a failed rotation changed the secret")
	}
}
