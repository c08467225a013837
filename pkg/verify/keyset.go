package verify

import (
	"crypto"
	"errors"
	"fmt"
	"strings"
)

// KeySet is several public keys, any one of which may have made a
// signature: the runbook's dual-key mode (VERIFY_KEYS), where during a
// key transition artifacts signed with the old key and with the new one
// both verify. [Signature], [Digest], [File], [Envelope.Verify] and
// [Provenance] accept a KeySet wherever they take a public key: a
// signature verifies when it verifies under one key of the set.
type KeySet []crypto.PublicKey

// LoadPublicKeys reads a comma-separated list of PEM public key files (the
// runbook's VERIFY_KEYS, e.g. "new/rsa_public.pem,old/rsa_public.pem").
// One file gives that key itself; several give a [KeySet].
func LoadPublicKeys(list string) (crypto.PublicKey, error) {
	var ks KeySet
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		pub, err := LoadPublicKey(p)
		if err != nil {
			return nil, err
		}
		ks = append(ks, pub)
	}
	switch len(ks) {
	case 0:
		return nil, fmt.Errorf("%w: no public key file named", ErrMalformedKey)
	case 1:
		return ks[0], nil
	}
	return ks, nil
}

// IDs returns the [KeyID] of every key of the set.
func (ks KeySet) IDs() ([]string, error) {
	ids := make([]string, 0, len(ks))
	for _, k := range ks {
		id, err := KeyID(k)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// digest is [Digest] for a set: nil as soon as one key verifies. When none
// does, [ErrContentAltered] if one key recognises the signature as its own
// over other content, else the first key's error.
func (ks KeySet) digest(digest, sig []byte) error {
	if len(ks) == 0 {
		return fmt.Errorf("%w: an empty key set", ErrUnsupportedKey)
	}
	var first error
	for _, k := range ks {
		if _, nested := k.(KeySet); nested {
			return fmt.Errorf("%w: a key set inside a key set", ErrUnsupportedKey)
		}
		err := Digest(k, digest, sig)
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrContentAltered) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// verifyEnvelope is [Envelope.Verify] for a set: the key id of the first
// key that verifies. Errors prefer a key that signed (the content changed)
// over keys that did not.
func (ks KeySet) verifyEnvelope(e *Envelope) (string, error) {
	if len(ks) == 0 {
		return "", fmt.Errorf("%w: an empty key set", ErrUnsupportedKey)
	}
	var first, wrong error
	for _, k := range ks {
		if _, nested := k.(KeySet); nested {
			return "", fmt.Errorf("%w: a key set inside a key set", ErrUnsupportedKey)
		}
		id, err := e.Verify(k)
		if err == nil {
			return id, nil
		}
		switch {
		case errors.Is(err, ErrWrongKey):
			if wrong == nil {
				wrong = err
			}
		case first == nil:
			first = err
		}
	}
	if first != nil {
		return "", first
	}
	ids, _ := ks.IDs()
	return "", fmt.Errorf("%w: the envelope was signed by none of the %d keys given (%s)", ErrWrongKey, len(ks), strings.Join(ids, ", "))
}
