package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/crypto"
)

// KeyringFileName is the AES keyring state file in the daemons' data
// directory (paths.data_dir). `tarsctl keys rotate aes` writes it while
// daemons run; when it exists the orchestrator takes its keys from it
// instead of encryption.key_file and encryption.old_key_files. It names
// key files and their ids, never key material.
const KeyringFileName = "aes-keyring.json"

// KeyringVersion is the version of the keyring state file.
const KeyringVersion = 1

// Key roles in a keyring.
const (
	RolePrimary     = "primary"      // seals new data, opens what it sealed
	RoleDecryptOnly = "decrypt-only" // opens old data, never seals
)

// KeyRef names a key file and the id of the key it must hold.
type KeyRef struct {
	KeyFile string `json:"key_file"`
	KeyID   string `json:"key_id"`
}

// KeyringState is the keyring state file: which key seals and which keys
// only open. docs/keys.md describes it.
type KeyringState struct {
	Version     int       `json:"version"`
	Primary     KeyRef    `json:"primary"`
	DecryptOnly []KeyRef  `json:"decrypt_only"`
	UpdatedAt   time.Time `json:"updated_at"`
	// Phase is the rotation phase that wrote it, for the operator.
	Phase Phase `json:"phase,omitempty"`
}

// KeyringPath is the keyring state file of dataDir.
func KeyringPath(dataDir string) string { return filepath.Join(dataDir, KeyringFileName) }

// ReadKeyringState reads the keyring state file of dataDir; it returns nil
// and no error when there is none.
func ReadKeyringState(dataDir string) (*KeyringState, error) {
	path := KeyringPath(dataDir)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read keyring state: %w", err)
	}
	var s KeyringState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("keyring state %s: %w", path, err)
	}
	if s.Version != KeyringVersion {
		return nil, fmt.Errorf("keyring state %s: version %d, this tarsctl reads version %d", path, s.Version, KeyringVersion)
	}
	if s.Primary.KeyFile == "" {
		return nil, fmt.Errorf("keyring state %s: no primary key", path)
	}
	return &s, nil
}

// WriteKeyringState replaces the keyring state file of dataDir atomically
// (mode 0600).
func WriteKeyringState(dataDir string, s *KeyringState) error {
	s.Version = KeyringVersion
	if s.DecryptOnly == nil {
		s.DecryptOnly = []KeyRef{}
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	return atomicfile.WriteFile(KeyringPath(dataDir), append(b, '\n'), atomicfile.Options{Perm: 0o600})
}

// LoadedKey is one key of a loaded keyring.
type LoadedKey struct {
	KeyRef
	Role string
	Info crypto.KeyFileInfo
}

// LoadedKeyring is a keyring read from its key files.
type LoadedKeyring struct {
	Primary []byte // seals; nil when there is none
	Ring    *crypto.Keyring
	Keys    []LoadedKey // primary first
}

// LoadKeyring reads the key files of a keyring: primary (may be "") seals,
// decryptOnly only open. wantIDs, when not nil, maps a key file to the id
// it must hold, so that a key file replaced behind the keyring's back is
// an error and not a silent change of key. A key file that others may
// read is loaded, and reported in Info for the caller to warn about.
func LoadKeyring(primary string, decryptOnly []string, wantIDs map[string]string) (*LoadedKeyring, error) {
	lk := &LoadedKeyring{Ring: &crypto.Keyring{}}
	load := func(path, role string) error {
		key, info, err := crypto.LoadKeyFile(path)
		if err != nil {
			return err
		}
		id := crypto.KeyID(key)
		if want := wantIDs[path]; want != "" && want != id {
			return fmt.Errorf("key file %s holds key %s, but the keyring expects key %s: it was replaced", path, id, want)
		}
		if _, ok := lk.Ring.Lookup(id); ok {
			return nil // the same key twice: the first role wins
		}
		if _, err := lk.Ring.Add(key); err != nil {
			return err
		}
		if role == RolePrimary {
			lk.Primary = key
		}
		lk.Keys = append(lk.Keys, LoadedKey{KeyRef: KeyRef{KeyFile: path, KeyID: id}, Role: role, Info: info})
		return nil
	}
	if primary != "" {
		if err := load(primary, RolePrimary); err != nil {
			return nil, err
		}
	}
	for _, p := range decryptOnly {
		if p == "" {
			continue
		}
		if err := load(p, RoleDecryptOnly); err != nil {
			return nil, err
		}
	}
	return lk, nil
}

// Load reads the key files the state names and checks their ids.
func (s *KeyringState) Load() (*LoadedKeyring, error) {
	want := map[string]string{s.Primary.KeyFile: s.Primary.KeyID}
	var old []string
	for _, r := range s.DecryptOnly {
		want[r.KeyFile] = r.KeyID
		old = append(old, r.KeyFile)
	}
	return LoadKeyring(s.Primary.KeyFile, old, want)
}
