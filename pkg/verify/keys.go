package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
)

// MinRSABits is the smallest RSA modulus accepted for signing or verifying.
const MinRSABits = 2048

// maxKeyFile caps how much of a key file is read: a PEM public key is a few
// hundred bytes, a 16384-bit one under 4 KiB.
const maxKeyFile = 64 << 10

// LoadPublicKey reads a PEM public key file; see [ParsePublicKey]. Errors name
// the file, never its content.
func LoadPublicKey(path string) (crypto.PublicKey, error) {
	data, err := readCapped(path, maxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	pub, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return pub, nil
}

// ParsePublicKey parses the first PEM block of data: a PKIX "PUBLIC KEY" or a
// PKCS#1 "RSA PUBLIC KEY", holding an RSA key of at least [MinRSABits] bits
// or an ECDSA P-256 key. A private key is refused with a message that says
// so, since passing one where the public key belongs is an easy mistake.
func ParsePublicKey(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found", ErrMalformedKey)
	}
	var (
		pub any
		err error
	)
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("%w: the file holds a private key (%s); pass the public key", ErrMalformedKey, block.Type)
	default:
		return nil, fmt.Errorf("%w: PEM block %q is not a public key", ErrMalformedKey, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformedKey, block.Type, err)
	}
	if err := CheckPublicKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// CheckPublicKey returns [ErrUnsupportedKey] unless pub is an RSA key of at
// least [MinRSABits] bits or an ECDSA P-256 key.
func CheckPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSABits {
			return fmt.Errorf("%w: RSA key of %d bits; at least %d are needed", ErrUnsupportedKey, k.N.BitLen(), MinRSABits)
		}
		return nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("%w: ECDSA curve %s; only P-256 is supported", ErrUnsupportedKey, k.Curve.Params().Name)
		}
		return nil
	default:
		return fmt.Errorf("%w: %T; RSA and ECDSA P-256 are supported", ErrUnsupportedKey, pub)
	}
}

// KeyID returns the key's OpenSSH SHA-256 fingerprint, "SHA256:" and the
// unpadded base64 of the SHA-256 of the key in SSH wire format, as
// `ssh-keygen -l` prints it. DSSE envelopes carry it as their keyid because
// DSSE verifiers (go-securesystemslib, and so cosign) compute the same value
// for a bare key and skip signatures whose keyid differs.
func KeyID(pub crypto.PublicKey) (string, error) {
	var wire []byte
	switch k := pub.(type) {
	case *rsa.PublicKey:
		wire = sshString(wire, []byte("ssh-rsa"))
		wire = sshString(wire, mpint(big.NewInt(int64(k.E))))
		wire = sshString(wire, mpint(k.N))
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("%w: ECDSA curve %s", ErrUnsupportedKey, k.Curve.Params().Name)
		}
		ek, err := k.ECDH()
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrUnsupportedKey, err)
		}
		wire = sshString(wire, []byte("ecdsa-sha2-nistp256"))
		wire = sshString(wire, []byte("nistp256"))
		wire = sshString(wire, ek.Bytes())
	default:
		return "", fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
	}
	sum := sha256.Sum256(wire)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:]), nil
}

func sshString(dst, s []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

// mpint is the SSH encoding of a non-negative integer: big-endian, with a
// leading zero byte when the top bit is set so it does not read as negative.
func mpint(n *big.Int) []byte {
	b := n.Bytes()
	if len(b) > 0 && b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	return b
}

func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than the limit of %d bytes", path, limit)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return data, nil
}
