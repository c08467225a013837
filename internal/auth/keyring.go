package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
)

// PreviousSuffix names the file next to a JWT secret file that keeps the
// secrets rotations replaced: jwt_secret → jwt_secret.previous.
const PreviousSuffix = ".previous"

// previousVersion is the version of the previous-secrets file format.
const previousVersion = 1

// maxPreviousFile caps what [ReadPrevious] reads.
const maxPreviousFile = 1 << 20

// PreviousSecret is one secret a rotation replaced, as kept in the
// previous-secrets file.
type PreviousSecret struct {
	// KeyID is [KeyID] of Secret, recorded so an operator can match a
	// token's kid to an entry without the secret.
	KeyID  string
	Secret []byte
	// ReplacedAt is when the rotation replaced it.
	ReplacedAt time.Time
	// VerifyUntil, when not zero, is the end of its grace period: until
	// then the daemons still accept tokens it signed. Zero means it is
	// kept only so `secrets rotate jwt --rollback` can restore it (an
	// immediate cut) and verifies nothing.
	VerifyUntil time.Time
}

// Expired reports whether the grace period of p has ended at now; a
// rollback-only entry never expires.
func (p PreviousSecret) Expired(now time.Time) bool {
	return !p.VerifyUntil.IsZero() && !now.Before(p.VerifyUntil)
}

// previousFile is the JSON form; see docs/secrets.md.
type previousFile struct {
	Version int             `json:"version"`
	Secrets []previousEntry `json:"secrets"`
}

type previousEntry struct {
	KeyID       string     `json:"kid"`
	Secret      string     `json:"secret"` // base64 (standard) of the secret's bytes
	ReplacedAt  time.Time  `json:"replaced_at"`
	VerifyUntil *time.Time `json:"verify_until,omitempty"`
}

// ReadPrevious reads the previous-secrets file at path, newest first. A
// missing file is no entries. A file that is not JSON is the format before
// graceful rotation: the one replaced secret, rollback only.
func ReadPrevious(path string) ([]PreviousSecret, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read previous JWT secrets: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPreviousFile+1))
	if err != nil {
		return nil, fmt.Errorf("read previous JWT secrets: %w", err)
	}
	if len(b) > maxPreviousFile {
		return nil, fmt.Errorf("previous JWT secrets file %s is larger than %d bytes", path, maxPreviousFile)
	}
	return ParsePrevious(b, path)
}

// ParsePrevious parses the previous-secrets file's content; name is used
// in errors.
func ParsePrevious(b []byte, name string) ([]PreviousSecret, error) {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return nil, nil
	}
	if trimmed[0] != '{' {
		// The plain format: one secret, as `secrets rotate jwt` kept it
		// before graceful rotation.
		s := []byte(strings.TrimRight(string(b), "\r\n"))
		return []PreviousSecret{{KeyID: KeyID(s), Secret: s}}, nil
	}
	var pf previousFile
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pf); err != nil {
		return nil, fmt.Errorf("parse previous JWT secrets %s: %w (remove the file to drop the previous secrets)", name, err)
	}
	if pf.Version != previousVersion {
		return nil, fmt.Errorf("previous JWT secrets %s: version %d, want %d", name, pf.Version, previousVersion)
	}
	out := make([]PreviousSecret, 0, len(pf.Secrets))
	for i, e := range pf.Secrets {
		s, err := base64.StdEncoding.DecodeString(e.Secret)
		if err != nil || len(s) == 0 {
			return nil, fmt.Errorf("previous JWT secrets %s: entry %d: secret is not base64", name, i+1)
		}
		if e.KeyID != KeyID(s) {
			return nil, fmt.Errorf("previous JWT secrets %s: entry %d: kid %q does not match its secret", name, i+1, e.KeyID)
		}
		p := PreviousSecret{KeyID: e.KeyID, Secret: s, ReplacedAt: e.ReplacedAt}
		if e.VerifyUntil != nil {
			p.VerifyUntil = *e.VerifyUntil
		}
		out = append(out, p)
	}
	return out, nil
}

// MarshalPrevious returns the file content for entries (newest first).
func MarshalPrevious(entries []PreviousSecret) []byte {
	pf := previousFile{Version: previousVersion, Secrets: make([]previousEntry, len(entries))}
	for i, p := range entries {
		e := previousEntry{KeyID: KeyID(p.Secret), Secret: base64.StdEncoding.EncodeToString(p.Secret), ReplacedAt: p.ReplacedAt.UTC()}
		if !p.VerifyUntil.IsZero() {
			u := p.VerifyUntil.UTC()
			e.VerifyUntil = &u
		}
		pf.Secrets[i] = e
	}
	b, _ := json.MarshalIndent(pf, "", "  ")
	return append(b, '\n')
}

// WritePrevious replaces the previous-secrets file at path with entries
// (0600, atomically), or removes it when there are none. The old file's
// content is overwritten before it is unlinked, so secrets dropped from
// the list do not linger on disk (best effort: a journaling or
// copy-on-write file system may keep copies).
func WritePrevious(path string, entries []PreviousSecret) error {
	if len(entries) == 0 {
		if err := ShredFile(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove previous JWT secrets: %w", err)
		}
		return nil
	}
	return ReplaceSecretFile(path, MarshalPrevious(entries))
}

// ReplaceSecretFile atomically replaces path with data (0600) and then
// overwrites the replaced file's content before unlinking it. A crash in
// between leaves path.shred-* hard links, which [RemoveStaleShreds]
// destroys.
func ReplaceSecretFile(path string, data []byte) error {
	old := ""
	if _, err := os.Lstat(path); err == nil {
		old = fmt.Sprintf("%s.shred-%s", path, RandomID()[:8])
		if err := os.Link(path, old); err != nil {
			old = ""
		}
	}
	if err := atomicfile.WriteFile(path, data, atomicfile.Options{Perm: 0o600}); err != nil {
		if old != "" {
			_ = os.Remove(old)
		}
		return err
	}
	if old != "" {
		_ = ShredFile(old)
	}
	return nil
}

// RemoveStaleShreds destroys the path.shred-* links a crash in
// [ReplaceSecretFile] left behind.
func RemoveStaleShreds(path string) {
	matches, _ := filepath.Glob(path + ".shred-*")
	for _, m := range matches {
		_ = ShredFile(m)
	}
}

// ShredFile overwrites the regular file at path with random bytes, syncs
// it, and removes it: the runbook's `shred -u`, best effort.
func ShredFile(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode().IsRegular() && fi.Size() > 0 {
		if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			buf := make([]byte, fi.Size())
			_, _ = rand.Read(buf)
			_, _ = f.WriteAt(buf, 0)
			_ = f.Sync()
			_ = f.Close()
		}
	}
	return os.Remove(path)
}

// LoadPrevious reads the previous secrets kept next to the JWT secret file
// secretPath, drops the entries whose grace period has ended at now
// (rewriting the file so their material is destroyed), and returns the
// ones still in force. It holds the file's lock while it does, so it never
// undoes a concurrent rotation. A rewrite that fails (a read-only secrets
// mount) is not an error: an expired entry verifies nothing anyway.
func LoadPrevious(secretPath string, now time.Time) ([]PreviousSecret, error) {
	path := secretPath + PreviousSuffix
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	unlock, lockErr := LockPrevious(secretPath)
	if lockErr == nil {
		defer unlock()
	}
	entries, err := ReadPrevious(path)
	if err != nil {
		return nil, err
	}
	kept := entries[:0:0]
	for _, p := range entries {
		if !p.Expired(now) {
			kept = append(kept, p)
		}
	}
	if len(kept) != len(entries) && lockErr == nil {
		_ = WritePrevious(path, kept)
	}
	if lockErr == nil {
		RemoveStaleShreds(path)
		RemoveStaleShreds(secretPath)
	}
	return kept, nil
}

// VerifyKeys returns the entries still in their grace period at now as
// [PreviousKey] values (rollback-only entries verify nothing).
func VerifyKeys(entries []PreviousSecret, now time.Time) []PreviousKey {
	var out []PreviousKey
	for _, p := range entries {
		if !p.VerifyUntil.IsZero() && now.Before(p.VerifyUntil) {
			out = append(out, PreviousKey{Secret: p.Secret, Until: p.VerifyUntil})
		}
	}
	return out
}
