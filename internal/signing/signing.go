// Package signing loads private keys and makes the signatures that
// [github.com/tars-ops/tarsctl/pkg/verify] checks: RSASSA-PSS with SHA-256,
// MGF1-SHA-256 and a 32-byte salt for RSA keys, ASN.1 ECDSA with SHA-256 for
// P-256 keys, chosen by the key's type.
//
// # Keys
//
// Private keys are PEM files as `openssl genpkey` writes them (PKCS#8
// "PRIVATE KEY"), or the older PKCS#1 "RSA PRIVATE KEY" and SEC 1 "EC PRIVATE
// KEY". Encrypted keys are refused: tarsctl runs unattended in CI, where the
// key's protection is the secret store it is mounted from. Errors name the
// key file, never its content; a key file that others can read is loaded but
// reported through [Key.WorldReadable] so the command can warn.
//
// # Detached signatures
//
// [SignFile] writes FILE.sig holding the raw signature bytes, which `openssl
// dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
// -verify pub.pem -signature FILE.sig FILE` accepts.
package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// SaltLength is the RSA-PSS salt length used when signing: the length of the
// SHA-256 hash, as the issue and openssl's rsa_pss_saltlen:32 expect.
const SaltLength = 32

// ErrEncryptedKey is returned for a passphrase-protected private key.
var ErrEncryptedKey = errors.New("encrypted private keys are not supported")

// ErrMalformedKey is returned when a file does not hold a usable private key.
var ErrMalformedKey = errors.New("malformed private key")

// Key is a private signing key loaded from a file.
type Key struct {
	// Path is the file the key was loaded from ("" if it was not).
	Path string
	// Signer is an *rsa.PrivateKey or an *ecdsa.PrivateKey.
	Signer crypto.Signer
	// ID is the public key's [verify.KeyID].
	ID   string
	mode fs.FileMode
}

// Public returns the key's public half.
func (k *Key) Public() crypto.PublicKey { return k.Signer.Public() }

// WorldReadable reports whether anyone but the key file's owner may read or
// write it: any group or other permission bit counts.
func (k *Key) WorldReadable() bool { return k.mode&0o077 != 0 }

// Algorithm names the signature scheme the key makes.
func (k *Key) Algorithm() string {
	if _, ok := k.Signer.(*ecdsa.PrivateKey); ok {
		return "ecdsa-p256-sha256"
	}
	return "rsassa-pss-sha256"
}

// maxKeyFile caps a private key file; a 16384-bit RSA key is under 13 KiB.
const maxKeyFile = 64 << 10

// LoadKey reads a PEM private key from path.
func LoadKey(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open signing key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open signing key: %w", err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("signing key %s: %w: it is a directory", path, ErrMalformedKey)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read signing key %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("signing key %s: %w: larger than %d bytes", path, ErrMalformedKey, maxKeyFile)
	}
	k, err := ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	k.Path, k.mode = path, fi.Mode().Perm()
	return k, nil
}

// ParseKey parses the first PEM block of data as a private key.
func ParseKey(data []byte) (*Key, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found", ErrMalformedKey)
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		if _, encrypted := block.Headers["DEK-Info"]; encrypted {
			return nil, ErrEncryptedKey
		}
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		if _, encrypted := block.Headers["DEK-Info"]; encrypted {
			return nil, ErrEncryptedKey
		}
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, ErrEncryptedKey
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		return nil, fmt.Errorf("%w: the file holds a public key; signing needs the private key", ErrMalformedKey)
	default:
		return nil, fmt.Errorf("%w: PEM block %q is not a private key", ErrMalformedKey, block.Type)
	}
	if err != nil {
		// x509's message describes the structure, never the key material.
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformedKey, block.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T", verify.ErrUnsupportedKey, key)
	}
	return NewKey(signer)
}

// NewKey wraps an RSA or ECDSA P-256 private key.
func NewKey(signer crypto.Signer) (*Key, error) {
	switch signer.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey:
	default:
		return nil, fmt.Errorf("%w: %T; RSA and ECDSA P-256 are supported", verify.ErrUnsupportedKey, signer)
	}
	if err := verify.CheckPublicKey(signer.Public()); err != nil {
		return nil, err
	}
	id, err := verify.KeyID(signer.Public())
	if err != nil {
		return nil, err
	}
	return &Key{Signer: signer, ID: id}, nil
}

// SignDigest signs a SHA-256 digest.
func (k *Key) SignDigest(digest []byte) ([]byte, error) {
	switch s := k.Signer.(type) {
	case *rsa.PrivateKey:
		return rsa.SignPSS(rand.Reader, s, crypto.SHA256, digest, &rsa.PSSOptions{SaltLength: SaltLength, Hash: crypto.SHA256})
	case *ecdsa.PrivateKey:
		return ecdsa.SignASN1(rand.Reader, s, digest)
	}
	return nil, fmt.Errorf("%w: %T", verify.ErrUnsupportedKey, k.Signer)
}

// Sign signs everything r yields.
func (k *Key) Sign(r io.Reader) ([]byte, error) {
	sum, _, err := verify.SHA256(r)
	if err != nil {
		return nil, err
	}
	return k.SignDigest(sum[:])
}

// SignFile signs the file at path and writes the raw signature to
// path+".sig" atomically, replacing an older signature. It returns the
// signature file's path.
func (k *Key) SignFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	sig, err := k.Sign(f)
	f.Close()
	if err != nil {
		return "", fmt.Errorf("sign %s: %w", path, err)
	}
	sigPath := path + verify.SigSuffix
	if err := atomicfile.WriteFile(sigPath, sig, atomicfile.Options{Perm: 0o644}); err != nil {
		return "", err
	}
	return sigPath, nil
}

// DSSE returns the key as a DSSE signer whose signatures carry the key's
// [verify.KeyID] as their keyid.
func (k *Key) DSSE() dsse.Signer { return dsseSigner{k} }

type dsseSigner struct{ k *Key }

var _ dsse.Signer = dsseSigner{}

func (s dsseSigner) Sign(_ context.Context, data []byte) ([]byte, error) {
	return s.k.Sign(bytes.NewReader(data))
}

func (s dsseSigner) KeyID() (string, error) { return s.k.ID, nil }

// VerifyKeys returns the public keys that verify signatures in the
// runbook's dual-key mode, without duplicates: the public halves of
// keyFile (signing.key_file, SIGNING_KEY_NEW) and oldKeyFile
// (signing.old_key_file, SIGNING_KEY_OLD), and the public key files of
// verifyKeys (signing.verify_keys, VERIFY_KEYS). Empty names are skipped.
// The set goes wherever pkg/verify takes a public key.
func VerifyKeys(keyFile, oldKeyFile string, verifyKeys []string) (verify.KeySet, error) {
	var ks verify.KeySet
	seen := map[string]bool{}
	add := func(pub crypto.PublicKey) error {
		id, err := verify.KeyID(pub)
		if err != nil {
			return err
		}
		if !seen[id] {
			seen[id] = true
			ks = append(ks, pub)
		}
		return nil
	}
	for _, p := range []string{keyFile, oldKeyFile} {
		if p == "" {
			continue
		}
		k, err := LoadKey(p)
		if err != nil {
			return nil, err
		}
		if err := add(k.Public()); err != nil {
			return nil, err
		}
	}
	for _, p := range verifyKeys {
		if p == "" {
			continue
		}
		pub, err := verify.LoadPublicKey(p)
		if err != nil {
			return nil, err
		}
		if err := add(pub); err != nil {
			return nil, err
		}
	}
	if len(ks) == 0 {
		return nil, errors.New("no signing or verification key is configured: set signing.key_file or signing.verify_keys (VERIFY_KEYS)")
	}
	return ks, nil
}
