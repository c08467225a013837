package crypto

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
)

// KeySize is the size of a master key in bytes: AES-256.
const KeySize = 32

// maxKeyFileSize caps what [LoadKeyFile] reads: a key file is 32 raw bytes
// or 64 hex digits and a newline; anything much larger is not a key file.
const maxKeyFileSize = 4096

// Key file formats reported by [LoadKeyFile].
const (
	KeyFormatHex = "hex" // 64 hex digits, as `openssl rand -hex 32` writes
	KeyFormatRaw = "raw" // exactly 32 bytes
)

// ErrInvalidKey is returned for a key or key file that is not a usable
// 32-byte key.
var ErrInvalidKey = errors.New("invalid key")

// KeyID returns the public name of key: the first 8 bytes of its SHA-256,
// as 16 lower-case hex digits. It identifies the key without revealing it.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:keyIDSize])
}

// ParseKey decodes a key file's contents: exactly [KeySize] raw bytes, or
// 64 hex digits with optional surrounding whitespace. It returns the key and
// its format ([KeyFormatRaw] or [KeyFormatHex]). Errors wrap
// [ErrInvalidKey] and never include the data.
func ParseKey(data []byte) (key []byte, format string, err error) {
	if len(data) == KeySize {
		// 32 bytes cannot be 64 hex digits, so raw is unambiguous.
		return checkKey(bytes.Clone(data), KeyFormatRaw)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 2*KeySize {
		key := make([]byte, KeySize)
		if _, err := hex.Decode(key, trimmed); err == nil {
			return checkKey(key, KeyFormatHex)
		}
		return nil, "", fmt.Errorf("%w: 64 characters but not all hex digits", ErrInvalidKey)
	}
	return nil, "", fmt.Errorf("%w: want 64 hex digits (as `openssl rand -hex 32` writes) or %d raw bytes, got %d bytes",
		ErrInvalidKey, KeySize, len(data))
}

func checkKey(key []byte, format string) ([]byte, string, error) {
	if subtle.ConstantTimeCompare(key, make([]byte, KeySize)) == 1 {
		return nil, "", fmt.Errorf("%w: the key is all zeros", ErrInvalidKey)
	}
	return key, format, nil
}

// KeyFileInfo describes a key file [LoadKeyFile] read.
type KeyFileInfo struct {
	Path   string
	Format string      // KeyFormatHex or KeyFormatRaw
	Mode   fs.FileMode // permission bits
	// WorldReadable is true when users other than the owner and group may
	// read the file. Callers should warn: anyone who can read the key can
	// read everything it encrypted.
	WorldReadable bool
	// GroupReadable is true when the file's group may read it.
	GroupReadable bool
}

// LoadKeyFile reads a master key from path (see [ParseKey] for the formats)
// and reports the file's permissions. Errors name the file and wrap
// [ErrInvalidKey] or the file system error; they never include the file's
// contents.
func LoadKeyFile(path string) ([]byte, KeyFileInfo, error) {
	info := KeyFileInfo{Path: path}
	f, err := os.Open(path)
	if err != nil {
		return nil, info, fmt.Errorf("open key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, info, fmt.Errorf("key file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, info, fmt.Errorf("key file %s: %w: not a regular file", path, ErrInvalidKey)
	}
	info.Mode = fi.Mode().Perm()
	info.WorldReadable = info.Mode&0o004 != 0
	info.GroupReadable = info.Mode&0o040 != 0
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, info, fmt.Errorf("read key file %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, info, fmt.Errorf("key file %s: %w: larger than %d bytes", path, ErrInvalidKey, maxKeyFileSize)
	}
	key, format, err := ParseKey(data)
	if err != nil {
		return nil, info, fmt.Errorf("key file %s: %w", path, err)
	}
	info.Format = format
	return key, info, nil
}

// Keyring holds the master keys a reader may need, by key id: the current
// key and, during a rotation, the ones before it. The zero value is empty
// and ready to use. A Keyring is safe for concurrent reads once filled.
type Keyring struct {
	ids  []string
	keys map[string][]byte
}

// NewKeyring returns a keyring holding keys.
func NewKeyring(keys ...[]byte) (*Keyring, error) {
	k := &Keyring{}
	for _, key := range keys {
		if _, err := k.Add(key); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// Add adds key and returns its id. Adding a key twice is harmless.
func (k *Keyring) Add(key []byte) (string, error) {
	if len(key) != KeySize {
		return "", fmt.Errorf("%w: %d bytes, want %d", ErrInvalidKey, len(key), KeySize)
	}
	id := KeyID(key)
	if k.keys == nil {
		k.keys = map[string][]byte{}
	}
	if _, ok := k.keys[id]; !ok {
		k.ids = append(k.ids, id)
		k.keys[id] = bytes.Clone(key)
	}
	return id, nil
}

// IDs returns the ids of the keys, in the order they were added.
func (k *Keyring) IDs() []string { return slices.Clone(k.ids) }

// Lookup returns the key with the given id.
func (k *Keyring) Lookup(id string) ([]byte, bool) {
	key, ok := k.keys[id]
	return key, ok
}

// ErrUnknownKey is matched (errors.Is) by [*UnknownKeyError].
var ErrUnknownKey = errors.New("unknown key")

// UnknownKeyError is returned by [NewReader] when a file was sealed with a
// key the keyring does not hold.
type UnknownKeyError struct {
	KeyID string   // the key the file needs
	Have  []string // the ids of the keys offered
}

func (e *UnknownKeyError) Error() string {
	if len(e.Have) == 0 {
		return fmt.Sprintf("encrypted with key %s, and no key was given", e.KeyID)
	}
	return fmt.Sprintf("encrypted with key %s, not with the key given (%s)", e.KeyID, joinIDs(e.Have))
}

// Is makes errors.Is(err, ErrUnknownKey) true.
func (e *UnknownKeyError) Is(target error) bool { return target == ErrUnknownKey }

func joinIDs(ids []string) string {
	var b bytes.Buffer
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(id)
	}
	return b.String()
}
