package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sync"
	"time"
)

// kidLabel separates the key id hash from any other use of SHA-256 over
// the secret.
const kidLabel = "tars-jwt-kid-v1\x00"

// KeyID returns the public id of a JWT secret, carried in the kid header
// of the tokens it signs: the first 8 bytes of SHA-256("tars-jwt-kid-v1\0"
// || secret), in hex. It identifies the secret without revealing it.
func KeyID(secret []byte) string {
	h := sha256.New()
	h.Write([]byte(kidLabel))
	h.Write(secret)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// PreviousKey is a secret a graceful rotation replaced: it verifies (never
// signs) tokens until Until.
type PreviousKey struct {
	Secret []byte
	Until  time.Time
}

// KeyID returns the id of the previous secret.
func (p PreviousKey) KeyID() string { return KeyID(p.Secret) }

// registry maps the id of a current secret to the previous keys that
// verify alongside it, so every [NewSigner] of the process picks them up:
// the daemons load their secret through one function, which registers the
// previous keys it finds next to it, and each builds its signer from the
// secret alone.
var registry sync.Map // kid → []PreviousKey

// SetPreviousKeys registers the previous secrets that signers of current
// built from now on also verify with (each until its Until). Registering
// again replaces the list; an empty list removes it. Safe for concurrent
// use.
func SetPreviousKeys(current []byte, prev []PreviousKey) {
	kid := KeyID(current)
	if len(prev) == 0 {
		registry.Delete(kid)
		return
	}
	registry.Store(kid, clonePrevious(prev))
}

func previousKeys(kid string) []PreviousKey {
	v, ok := registry.Load(kid)
	if !ok {
		return nil
	}
	return v.([]PreviousKey)
}

func clonePrevious(prev []PreviousKey) []PreviousKey {
	out := slices.Clone(prev)
	for i := range out {
		out[i].Secret = slices.Clone(out[i].Secret)
	}
	return out
}

// PreviousKeyIDs returns the ids of the previous secrets s still verifies
// with at now, for logs.
func (s *Signer) PreviousKeyIDs(now time.Time) []string {
	var ids []string
	for _, p := range s.previous {
		if now.Before(p.Until) {
			ids = append(ids, p.KeyID())
		}
	}
	return ids
}
