package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// Signing key transition files, written next to the new private key.
const (
	// SigningTransitionName records an RSA key transition: when it started,
	// the old and the new key files and their ids.
	SigningTransitionName = "signing-transition.json"
	// SigningEnvName holds the runbook's dual-key configuration
	// (SIGNING_KEY_NEW, SIGNING_KEY_OLD, VERIFY_KEYS), which tarsctl's
	// configuration reads; file paths only, no key material.
	SigningEnvName = "signing.env"
	// DefaultSigningTransition is how long old signatures keep verifying
	// before the old key may be retired: the runbook's 30 days.
	DefaultSigningTransition = 30 * 24 * time.Hour
)

// Errors of the RSA transition.
var (
	// ErrTransitionInProgress means a transition has not been ended with
	// retire-old yet.
	ErrTransitionInProgress = errors.New("a signing key transition is in progress")
	// ErrTooEarly means retire-old was asked before the transition period
	// ended.
	ErrTooEarly = errors.New("the signing key transition period has not ended")
	// ErrNoTransition means there is no transition to end.
	ErrNoTransition = errors.New("no signing key transition")
)

// SigningKeyRef names one RSA key pair of a transition.
type SigningKeyRef struct {
	PrivateKey string `json:"private_key"`
	PublicKey  string `json:"public_key"`
	KeyID      string `json:"key_id"` // verify.KeyID: the OpenSSH SHA-256 fingerprint
}

// SigningTransition is the signing-transition.json record.
type SigningTransition struct {
	Version     int           `json:"version"`
	StartedAt   time.Time     `json:"started_at"`
	RetireAfter time.Time     `json:"retire_after"`
	Old         SigningKeyRef `json:"old"`
	New         SigningKeyRef `json:"new"`
	RetiredAt   *time.Time    `json:"retired_at,omitempty"`
	Forced      bool          `json:"retired_early,omitempty"`
}

// Env is the runbook's dual-key configuration for t, or the new key alone
// once the old one is retired.
func (t *SigningTransition) Env() string {
	var b strings.Builder
	if t.RetiredAt == nil {
		fmt.Fprintf(&b, "# tarsctl keys rotate rsa, %s: dual-key mode until %s (tarsctl keys retire-old)\n",
			t.StartedAt.Format(time.RFC3339), t.RetireAfter.Format(time.RFC3339))
		fmt.Fprintf(&b, "SIGNING_KEY_NEW=%s\nSIGNING_KEY_OLD=%s\nVERIFY_KEYS=%s,%s\n",
			t.New.PrivateKey, t.Old.PrivateKey, t.New.PublicKey, t.Old.PublicKey)
		return b.String()
	}
	fmt.Fprintf(&b, "# tarsctl keys retire-old, %s: the old key %s is retired\n", t.RetiredAt.Format(time.RFC3339), t.Old.KeyID)
	fmt.Fprintf(&b, "SIGNING_KEY_NEW=%s\nVERIFY_KEYS=%s\n", t.New.PrivateKey, t.New.PublicKey)
	return b.String()
}

// RotateRSAOptions are the inputs of [RotateRSA].
type RotateRSAOptions struct {
	CurrentKey string // the private key that signs today
	NewKey     string // where the new private key goes; its public key at PublicKeyPath
	Bits       int
	Period     time.Duration // default DefaultSigningTransition
	Now        func() time.Time
}

// ReadSigningTransition reads the transition record in dir; nil and no
// error when there is none.
func ReadSigningTransition(dir string) (*SigningTransition, error) {
	path := filepath.Join(dir, SigningTransitionName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read signing transition: %w", err)
	}
	var t SigningTransition
	if err := json.Unmarshal(b, &t); err != nil || t.Version != 1 {
		return nil, fmt.Errorf("signing transition %s: not a version 1 record (%v)", path, err)
	}
	return &t, nil
}

func writeSigningTransition(dir string, t *SigningTransition) error {
	t.Version = 1
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, SigningTransitionName), append(b, '\n'), atomicfile.Options{Perm: 0o600}); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, SigningEnvName), []byte(t.Env()), atomicfile.Options{Perm: 0o600})
}

// RotateRSA starts the runbook's dual-key transition: it generates a new
// RSA pair at opts.NewKey (and its public key next to it), makes sure the
// current key's public half is on disk, and records the transition in
// signing-transition.json and signing.env in the new key's directory. From
// then on the new key signs and both public keys verify; [RetireOldRSA]
// ends it. Nothing is written when the current key cannot be loaded, a
// transition is already in progress there, or a new key file exists.
func RotateRSA(opts RotateRSAOptions) (*SigningTransition, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Period <= 0 {
		opts.Period = DefaultSigningTransition
	}
	if opts.Bits == 0 {
		opts.Bits = DefaultRSABits
	}
	cur, err := signing.LoadKey(opts.CurrentKey)
	if err != nil {
		return nil, err
	}
	if cur.WorldReadable() {
		return nil, fmt.Errorf("signing key %s: %w (chmod 600 it)", opts.CurrentKey, ErrKeyPermissions)
	}
	curAbs, err := filepath.Abs(opts.CurrentKey)
	if err != nil {
		return nil, err
	}
	newAbs, err := filepath.Abs(opts.NewKey)
	if err != nil {
		return nil, err
	}
	if curAbs == newAbs {
		return nil, fmt.Errorf("the new key %s is the current key: choose another --out", opts.NewKey)
	}
	dir := filepath.Dir(newAbs)
	if t, err := ReadSigningTransition(dir); err != nil {
		return nil, err
	} else if t != nil && t.RetiredAt == nil {
		return nil, fmt.Errorf("%w in %s since %s (old key %s, new key %s): end it with tarsctl keys retire-old first",
			ErrTransitionInProgress, dir, t.StartedAt.Format(time.RFC3339), t.Old.KeyID, t.New.KeyID)
	}
	// The old public key verifies old signatures: make sure it exists and
	// matches the private key.
	curPub := PublicKeyPath(curAbs)
	if pub, err := verify.LoadPublicKey(curPub); err == nil {
		if id, _ := verify.KeyID(pub); id != cur.ID {
			return nil, fmt.Errorf("public key %s (%s) is not the public half of %s (%s)", curPub, id, opts.CurrentKey, cur.ID)
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		der, err := marshalPublic(cur)
		if err != nil {
			return nil, err
		}
		if err := WriteSecretFile(curPub, der, 0o644, false); err != nil {
			return nil, err
		}
	} else {
		return nil, err
	}
	kp, err := GenerateRSA(newAbs, PublicKeyPath(newAbs), opts.Bits, false)
	if err != nil {
		return nil, err
	}
	nk, err := signing.ParseKey(kp.PrivatePEM)
	if err != nil {
		return nil, err
	}
	now := opts.Now().UTC()
	t := &SigningTransition{
		StartedAt: now, RetireAfter: now.Add(opts.Period),
		Old: SigningKeyRef{PrivateKey: curAbs, PublicKey: curPub, KeyID: cur.ID},
		New: SigningKeyRef{PrivateKey: newAbs, PublicKey: PublicKeyPath(newAbs), KeyID: nk.ID},
	}
	if err := writeSigningTransition(dir, t); err != nil {
		return nil, err
	}
	return t, nil
}

// RetireOldRSA ends the transition recorded in dir: before RetireAfter it
// refuses with [ErrTooEarly] unless force is set; then it overwrites and
// removes the old private key, removes the old public key (so signatures
// made with the old key no longer verify), and rewrites signing.env with
// the new key alone.
func RetireOldRSA(dir string, force bool, now time.Time) (*SigningTransition, error) {
	t, err := ReadSigningTransition(dir)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("%w in %s: start one with tarsctl keys rotate rsa", ErrNoTransition, dir)
	}
	if t.RetiredAt != nil {
		return nil, fmt.Errorf("%w in %s: the old key %s was retired on %s", ErrNoTransition, dir, t.Old.KeyID, t.RetiredAt.Format(time.RFC3339))
	}
	if now.Before(t.RetireAfter) && !force {
		left := t.RetireAfter.Sub(now).Round(time.Hour)
		return t, fmt.Errorf("%w: it started on %s and lasts until %s (%s more); signatures made with the old key %s still need it",
			ErrTooEarly, t.StartedAt.Format(time.RFC3339), t.RetireAfter.Format(time.RFC3339), left, t.Old.KeyID)
	}
	if err := Shred(t.Old.PrivateKey); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return t, err
	}
	if err := os.Remove(t.Old.PublicKey); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return t, fmt.Errorf("remove old public key: %w", err)
	}
	at := now.UTC()
	t.RetiredAt, t.Forced = &at, now.Before(t.RetireAfter)
	if err := writeSigningTransition(dir, t); err != nil {
		return t, err
	}
	return t, nil
}
