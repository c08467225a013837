package keys

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/keys"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// readEnv parses signing.env into a getenv.
func readEnv(t *testing.T, path string) func(string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}

func signedFile(t *testing.T, dir, name, keyFile string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("artifact "+name), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := signing.LoadKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.SignFile(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// The runbook's dual-key transition: after rotate rsa the new key signs
// and both keys verify; retire-old refuses during the 30 days, then
// removes the old key, and old signatures stop verifying.
func TestRotateRSAAndRetireOld(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyDir := filepath.Join(dir, "keys")
	oldPriv := filepath.Join(keyDir, "rsa_private.pem")
	if _, err := keys.GenerateRSA(oldPriv, keys.PublicKeyPath(oldPriv), 2048, false); err != nil {
		t.Fatal(err)
	}
	artifacts := t.TempDir()
	before := signedFile(t, artifacts, "before.json", oldPriv)

	start := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	clock := start
	now := func() time.Time { return clock }
	exec := func(args ...string) (string, string, error) {
		ios, _, out, errOut := iostreams.Test()
		f := testFactory(ios, nil)
		cmd := NewCmdKeys(f)
		cmd.SetArgs(args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		rotateRSANow, retireNow = now, now
		err := cmd.Execute()
		return out.String(), errOut.String(), err
	}
	out, errOut, err := exec("rotate", "rsa", "--key", oldPriv, "--bits", "2048")
	if err != nil {
		t.Fatalf("rotate rsa: %v\n%s", err, errOut)
	}
	newPriv := filepath.Join(keyDir, "rsa_new_private.pem")
	if !strings.Contains(out, "SIGNING_KEY_NEW="+newPriv) || !strings.Contains(out, "SIGNING_KEY_OLD="+oldPriv) {
		t.Errorf("stdout:\n%s", out)
	}
	if fi, err := os.Stat(newPriv); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new private key: %v", err)
	}
	// A second rotation during the transition is refused, nothing written.
	if _, _, err := exec("rotate", "rsa", "--key", newPriv, "--out", filepath.Join(keyDir, "third.pem"), "--bits", "2048"); !errors.Is(err, keys.ErrTransitionInProgress) || cmdutil.ExitCode(err) != 1 {
		t.Errorf("second rotation: %v", err)
	}

	// The configuration reads the runbook's variables from signing.env.
	res, err := config.Load(config.LoadOptions{Getenv: readEnv(t, filepath.Join(keyDir, keys.SigningEnvName))})
	if err != nil {
		t.Fatal(err)
	}
	sc := res.Config.Signing
	if sc.KeyFile != newPriv || sc.OldKeyFile != oldPriv || len(sc.VerifyKeys) != 2 {
		t.Fatalf("signing config %+v", sc)
	}
	after := signedFile(t, artifacts, "after.json", sc.KeyFile) // the new key signs
	newPub, _ := verify.LoadPublicKey(keys.PublicKeyPath(newPriv))
	oldPub, _ := verify.LoadPublicKey(keys.PublicKeyPath(oldPriv))
	if verify.File(newPub, after, "") != nil || verify.File(oldPub, after, "") == nil {
		t.Fatal("the artifact signed after the rotation is not the new key's")
	}
	set, err := signing.VerifyKeys(sc.KeyFile, sc.OldKeyFile, sc.VerifyKeys)
	if err != nil || len(set) != 2 {
		t.Fatalf("verify keys: %d, %v", len(set), err)
	}
	envSet, err := verify.LoadPublicKeys(strings.Join(sc.VerifyKeys, ","))
	if err != nil {
		t.Fatal(err)
	}
	for _, ks := range []any{set, envSet} {
		for _, a := range []string{before, after} {
			if err := verify.File(ks, a, ""); err != nil {
				t.Errorf("during the transition %s: %v", filepath.Base(a), err)
			}
		}
	}
	os.WriteFile(after, []byte("tampered"), 0o644)
	if err := verify.File(set, after, ""); !errors.Is(err, verify.ErrContentAltered) {
		t.Errorf("tampered artifact: %v", err)
	}
	os.WriteFile(after, []byte("artifact after.json"), 0o644)

	// retire-old: refused during the 30 days.
	clock = start.Add(29 * 24 * time.Hour)
	if _, _, err := exec("retire-old", "--dir", keyDir, "--yes"); !errors.Is(err, keys.ErrTooEarly) || cmdutil.ExitCode(err) != 1 {
		t.Fatalf("early retire-old: %v", err)
	}
	if _, err := os.Stat(oldPriv); err != nil {
		t.Fatal("a refused retire-old removed the old key")
	}
	clock = start.Add(31 * 24 * time.Hour)
	out, errOut, err = exec("retire-old", "--dir", keyDir, "--yes")
	if err != nil {
		t.Fatalf("retire-old: %v\n%s", err, errOut)
	}
	for _, p := range []string{oldPriv, keys.PublicKeyPath(oldPriv)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there", p)
		}
	}
	if strings.Contains(out, "SIGNING_KEY_OLD") {
		t.Errorf("retired env still names the old key:\n%s", out)
	}
	res, err = config.Load(config.LoadOptions{Getenv: readEnv(t, filepath.Join(keyDir, keys.SigningEnvName))})
	if err != nil {
		t.Fatal(err)
	}
	sc = res.Config.Signing
	set, err = signing.VerifyKeys(sc.KeyFile, sc.OldKeyFile, sc.VerifyKeys)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify.File(set, after, ""); err != nil {
		t.Errorf("new signature after retire-old: %v", err)
	}
	if err := verify.File(set, before, ""); !errors.Is(err, verify.ErrVerificationFailed) {
		t.Errorf("old signature after retire-old: %v, want a verification failure", err)
	}
	if _, _, err := exec("retire-old", "--dir", keyDir, "--yes"); !errors.Is(err, keys.ErrNoTransition) {
		t.Errorf("second retire-old: %v", err)
	}

	// The next rotation needs no --out: the names alternate.
	clock = clock.Add(90 * 24 * time.Hour)
	if out, errOut, err := exec("rotate", "rsa", "--key", newPriv, "--bits", "2048"); err != nil || !strings.Contains(out, "SIGNING_KEY_NEW="+oldPriv) {
		t.Errorf("the rotation after retire-old: %v\n%s%s", err, out, errOut)
	}
}

// --force retires at once (a leaked old key).
func TestRetireOldForce(t *testing.T) {
	t.Parallel()
	keyDir := t.TempDir()
	oldPriv := filepath.Join(keyDir, "rsa_private.pem")
	if _, err := keys.GenerateRSA(oldPriv, keys.PublicKeyPath(oldPriv), 2048, false); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := keys.RotateRSA(keys.RotateRSAOptions{CurrentKey: oldPriv, NewKey: filepath.Join(keyDir, "new.pem"), Bits: 2048, Now: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	tr, err := keys.RetireOldRSA(keyDir, true, now.Add(time.Hour))
	if err != nil || !tr.Forced {
		t.Fatalf("forced retire: %+v %v", tr, err)
	}
	if _, err := os.Stat(oldPriv); !os.IsNotExist(err) {
		t.Error("old key kept")
	}
}
