package orchestrator

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/rl"
)

// FuzzReadCheckpoint feeds arbitrary files to the checkpoint reader and
// restore: no panic, and an error means no learner.
func FuzzReadCheckpoint(f *testing.F) {
	l, _ := rl.NewLearner(&rl.CartPole{}, rl.DefaultHyperparameters(), 1)
	a := &agent{id: "fz", hp: l.Hyperparameters(), base: l.Snapshot()}
	good, _ := a.checkpointLocked()
	f.Add(good)
	f.Add([]byte(`{"format":"tars-agent-checkpoint","version":1,"agent_id":"fz","learner":{"environment":"cartpole-v1","states":36,"actions":2,"q":[]}}`))
	f.Add([]byte(crypto.Magic + "\x01\x01\x10"))
	f.Add([]byte{})
	key := make([]byte, crypto.KeySize)
	key[0] = 1
	ring, _ := crypto.NewKeyring(key)
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fz.qtable")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cp, _, err := readCheckpoint(path, ring)
		if err != nil {
			return
		}
		if l, err := rl.Restore(cp.Learner); err == nil && l == nil {
			t.Fatal("Restore returned neither a learner nor an error")
		}
	})
}
