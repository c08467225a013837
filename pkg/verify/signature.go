package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
)

// SigSuffix is appended to a file's name to name its detached signature.
const SigSuffix = ".sig"

// maxSigFile caps a detached signature file: an RSA-16384 signature is 2 KiB.
const maxSigFile = 16 << 10

// hashBufferSize is the read size when hashing files. Large reads keep the
// hash, not the system calls, the bottleneck on multi-gigabyte artifacts.
const hashBufferSize = 1 << 20

// SHA256 hashes everything r yields and returns the digest and the number of
// bytes read.
func SHA256(r io.Reader) (sum [sha256.Size]byte, n int64, err error) {
	h := sha256.New()
	n, err = io.CopyBuffer(h, onlyReader{r}, make([]byte, hashBufferSize))
	if err != nil {
		return sum, n, err
	}
	h.Sum(sum[:0])
	return sum, n, nil
}

// onlyReader hides WriterTo/ReaderFrom so io.CopyBuffer uses our buffer.
type onlyReader struct{ io.Reader }

// SHA256File returns the SHA-256 digest of the file at path as lower-case hex,
// and its size.
func SHA256File(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	sum, n, err := SHA256(f)
	if err != nil {
		return "", n, fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(sum[:]), n, nil
}

// Signature checks that sig is pub's signature over the content of r: RSA-PSS
// with SHA-256 and any salt length, or ECDSA P-256 with SHA-256 in ASN.1. It
// returns nil, [ErrContentAltered], [ErrBadSignature], or an error reading r.
func Signature(pub crypto.PublicKey, r io.Reader, sig []byte) error {
	sum, _, err := SHA256(r)
	if err != nil {
		return err
	}
	return Digest(pub, sum[:], sig)
}

// Digest is [Signature] for content already hashed with SHA-256.
func Digest(pub crypto.PublicKey, digest, sig []byte) error {
	if ks, ok := pub.(KeySet); ok {
		return ks.digest(digest, sig)
	}
	if err := CheckPublicKey(pub); err != nil {
		return err
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		err := rsa.VerifyPSS(k, crypto.SHA256, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: crypto.SHA256})
		if err == nil {
			return nil
		}
		if pssWellFormed(k, sig) {
			return ErrContentAltered
		}
		return ErrBadSignature
	case *ecdsa.PublicKey:
		if ecdsa.VerifyASN1(k, digest, sig) {
			return nil
		}
		// ECDSA cannot tell a corrupt signature from altered content.
		return failure("signature does not match the content: the content or the signature was altered, or it was made with a different key")
	}
	return fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
}

// pssWellFormed reports whether sig, opened with pub, is a well-formed
// EMSA-PSS encoding for SHA-256 (RFC 8017 §9.1.2 up to, not including, the
// final hash comparison). Only the key's owner can produce one, so a
// well-formed signature that fails verification was made by this key over
// different content. It uses only the public key.
func pssWellFormed(pub *rsa.PublicKey, sig []byte) bool {
	const hLen = sha256.Size
	k := pub.Size()
	if len(sig) != k {
		return false
	}
	s := new(big.Int).SetBytes(sig)
	if s.Cmp(pub.N) >= 0 {
		return false
	}
	m := new(big.Int).Exp(s, big.NewInt(int64(pub.E)), pub.N)
	emBits := pub.N.BitLen() - 1
	emLen := (emBits + 7) / 8
	em := m.FillBytes(make([]byte, k))
	if emLen < k {
		if em[0] != 0 {
			return false
		}
		em = em[1:]
	}
	if emLen < hLen+2 || em[emLen-1] != 0xbc {
		return false
	}
	db := bytes.Clone(em[:emLen-hLen-1])
	h := em[emLen-hLen-1 : emLen-1]
	mgf1XOR(db, h)
	db[0] &= 0xff >> (8*emLen - emBits)
	i := 0
	for i < len(db) && db[i] == 0 {
		i++
	}
	return i < len(db) && db[i] == 0x01
}

// mgf1XOR XORs out with MGF1-SHA-256 of seed.
func mgf1XOR(out, seed []byte) {
	var counter [4]byte
	done := 0
	for done < len(out) {
		h := sha256.New()
		h.Write(seed)
		h.Write(counter[:])
		for _, b := range h.Sum(nil) {
			if done == len(out) {
				break
			}
			out[done] ^= b
			done++
		}
		for i := 3; i >= 0; i-- {
			counter[i]++
			if counter[i] != 0 {
				break
			}
		}
	}
}

// File checks the detached signature of the file at path: sigPath, or
// path+".sig" when sigPath is "". The signature file holds the raw signature
// bytes; a base64 signature (a common mistake when copying one around) is
// decoded too.
func File(pub crypto.PublicKey, path, sigPath string) error {
	if sigPath == "" {
		sigPath = path + SigSuffix
	}
	sig, err := readCapped(sigPath, maxSigFile)
	if err != nil {
		return fmt.Errorf("read signature: %w", err)
	}
	sig = maybeBase64(sig)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := Signature(pub, f, sig); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// maybeBase64 decodes sig if it is base64 text rather than raw bytes.
func maybeBase64(sig []byte) []byte {
	t := strings.TrimSpace(string(sig))
	if len(t) < 64 || strings.ContainsFunc(t, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '/' || r == '=' || r == '-' || r == '_')
	}) {
		return sig
	}
	if b, err := decodeBase64(t); err == nil {
		return b
	}
	return sig
}
