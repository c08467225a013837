package orchestrator

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/keys"
	"github.com/tars-ops/tarsctl/pkg/client"
)

func writeKeyAt(t *testing.T, dir, name string) (string, []byte) {
	t.Helper()
	key := keys.NewAESKey()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, keys.EncodeAESKey(key), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, key
}

func fileKeyID(t *testing.T, path string) string {
	t.Helper()
	id, err := keys.FileKeyID(path)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// SetKeys switches the sealing key at once and loads agents whose
// checkpoint needed a key the old keyring lacked.
func TestSetKeysSwitchesAndRetriesUnreadable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, oldKey := writeKeyAt(t, t.TempDir(), "old.key")
	_, newKey := writeKeyAt(t, t.TempDir(), "new.key")
	seed := uint64(3)

	// A checkpoint sealed with the new key before the daemon knows it.
	pre, err := New(Options{Dir: dir, Key: newKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pre.Train(context.Background(), "early", client.TrainRequest{Episodes: 2, Seed: &seed}); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	o, err := New(Options{Dir: dir, Key: oldKey, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := o.Unreadable()["early"]; !ok {
		t.Fatalf("a checkpoint under an unknown key loaded: %v", o.Unreadable())
	}
	if _, err := o.Train(context.Background(), "a", client.TrainRequest{Episodes: 2, Seed: &seed}); err != nil {
		t.Fatal(err)
	}
	if got := fileKeyID(t, filepath.Join(dir, "a.qtable")); got != crypto.KeyID(oldKey) {
		t.Fatalf("sealed with %s before the switch", got)
	}

	ring, _ := crypto.NewKeyring(oldKey)
	if err := o.SetKeys(newKey, ring); err != nil {
		t.Fatal(err)
	}
	if bad := o.Unreadable(); len(bad) != 0 {
		t.Errorf("still unreadable after the keyring gained the key: %v", bad)
	}
	if a, err := o.Get("early"); err != nil || a.Status != client.AgentIdle {
		t.Errorf("early: %+v %v", a, err)
	}
	if _, err := o.Train(context.Background(), "a", client.TrainRequest{Episodes: 1}); err != nil {
		t.Fatal(err)
	}
	if got := fileKeyID(t, filepath.Join(dir, "a.qtable")); got != crypto.KeyID(newKey) {
		t.Errorf("sealed with %s after the switch, want the new key", got)
	}
	if !strings.Contains(logs.String(), "readable with the new keyring") {
		t.Errorf("logs:\n%s", logs.String())
	}
}

// The daemon takes its keyring from the state file when there is one,
// and logs each key with its role.
func TestLoadKeysFromStateAndConfig(t *testing.T) {
	t.Parallel()
	kd := t.TempDir()
	oldPath, oldKey := writeKeyAt(t, kd, "old.key")
	newPath, newKey := writeKeyAt(t, kd, "new.key")
	cfg := testConfig(t, func(c *config.Config) {
		c.Encryption.Enabled, c.Encryption.KeyFile, c.Encryption.OldKeyFiles = true, oldPath, []string{newPath}
	})
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	seal, ring, err := LoadKeys(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(seal, oldKey) || len(ring.IDs()) != 2 {
		t.Fatalf("config keyring: seal %s, ids %v", crypto.KeyID(seal), ring.IDs())
	}
	for _, want := range []string{"key_id=" + crypto.KeyID(oldKey) + " role=primary", "key_id=" + crypto.KeyID(newKey) + " role=decrypt-only"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}

	st := &keys.KeyringState{Primary: keys.KeyRef{KeyFile: newPath, KeyID: crypto.KeyID(newKey)},
		DecryptOnly: []keys.KeyRef{{KeyFile: oldPath, KeyID: crypto.KeyID(oldKey)}}}
	if err := keys.WriteKeyringState(cfg.Paths.DataDirPath(), st); err != nil {
		t.Fatal(err)
	}
	seal, _, err = LoadKeys(cfg, log)
	if err != nil || !bytes.Equal(seal, newKey) {
		t.Fatalf("state keyring: %v, seal %s", err, crypto.KeyID(seal))
	}

	// A key file replaced behind the state file's back is refused.
	if err := os.WriteFile(newPath, keys.EncodeAESKey(keys.NewAESKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadKeys(cfg, log); err == nil || !strings.Contains(err.Error(), "was replaced") {
		t.Errorf("replaced key file: %v", err)
	}
}
