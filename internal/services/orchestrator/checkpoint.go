package orchestrator

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/keys"
	"github.com/tars-ops/tarsctl/internal/rl"
)

// Checkpoint files: DIR/<agent id>.qtable, a JSON document (see
// docs/formats.md, "Agent checkpoints"), sealed in internal/crypto's
// format when encryption is on.
const (
	CheckpointExt     = ".qtable"
	CheckpointFormat  = "tars-agent-checkpoint"
	CheckpointVersion = 1
	// maxCheckpoint caps what is read: a CartPole table is a few KiB.
	maxCheckpoint = 16 << 20
)

// checkpoint is the JSON document of one agent's checkpoint.
type checkpoint struct {
	Format        string      `json:"format"`
	Version       int         `json:"version"`
	AgentID       string      `json:"agent_id"`
	Type          string      `json:"type"`
	CreatedAt     time.Time   `json:"created_at"`
	UpdatedAt     time.Time   `json:"updated_at"`
	LastTrainedAt time.Time   `json:"last_trained_at,omitzero"`
	TrainingRuns  int         `json:"training_runs"`
	LastReward    float64     `json:"last_reward"`
	BestReward    float64     `json:"best_reward"`
	RecentRewards []float64   `json:"recent_rewards"`
	Learner       rl.Snapshot `json:"learner"`
}

// checkpointLocked encodes the agent's durable state: the learner as of
// its last run with the current hyperparameters. a.mu must be held.
func (a *agent) checkpointLocked() ([]byte, error) {
	s := a.baseStats
	cp := checkpoint{
		Format: CheckpointFormat, Version: CheckpointVersion, AgentID: a.id, Type: AgentType,
		CreatedAt: a.created, UpdatedAt: a.updated, LastTrainedAt: s.lastTrained,
		TrainingRuns: s.runs, LastReward: s.last, BestReward: s.best, RecentRewards: s.recent,
		Learner: a.base.WithHyperparameters(a.hp),
	}
	if cp.RecentRewards == nil {
		cp.RecentRewards = []float64{}
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return nil, fmt.Errorf("encode checkpoint of %s: %w", a.id, err)
	}
	return append(b, '\n'), nil
}

// writeCheckpoint replaces path atomically with data, encrypted with key
// when key is not nil. The file is 0600 either way. The rename happens
// under keys.LockReplace, so a key rotation re-encrypting the same file
// concurrently never puts back an older version.
func writeCheckpoint(path string, data, key []byte) (err error) {
	dir, base := filepath.Split(path)
	// The name is atomicfile's: load and key rotation skip such files.
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 64<<10)
	if key == nil {
		_, err = w.Write(data)
	} else {
		var ew *crypto.Writer
		if ew, err = crypto.NewWriter(w, key); err == nil {
			if _, err = ew.Write(data); err == nil {
				err = ew.Close()
			}
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write checkpoint %s: %w", path, err)
	}
	unlock, err := keys.LockReplace(path)
	if err != nil {
		return err
	}
	err = os.Rename(tmp.Name(), path)
	unlock()
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// fileInfo says how a checkpoint was stored.
type fileInfo struct {
	encrypted bool
	keyID     string
}

// ErrCheckpointFormat is wrapped for a file that is not a checkpoint this
// version understands.
var ErrCheckpointFormat = errors.New("not a version 1 agent checkpoint")

// readCheckpoint reads and decodes a checkpoint, decrypting it with keys
// if it is encrypted. An encrypted file is only trusted once the reader
// has reached its end (the format detects truncation there).
func readCheckpoint(path string, keys *crypto.Keyring) (checkpoint, fileInfo, error) {
	var cp checkpoint
	var info fileInfo
	f, err := os.Open(path)
	if err != nil {
		return cp, info, err
	}
	defer f.Close()
	br := bufio.NewReader(io.LimitReader(f, maxCheckpoint+1))
	var r io.Reader = br
	if head, _ := br.Peek(crypto.HeaderSize); bytes.HasPrefix(head, []byte(crypto.Magic)) {
		info.encrypted = true
		if h, err := crypto.ParseHeader(head); err == nil {
			info.keyID = h.KeyID
		}
		dec, err := crypto.NewReader(br, keys)
		if err != nil {
			return cp, info, fmt.Errorf("decrypt checkpoint %s: %w", path, err)
		}
		r = dec
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return cp, info, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	if len(data) > maxCheckpoint {
		return cp, info, fmt.Errorf("checkpoint %s: larger than %d bytes", path, maxCheckpoint)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&cp); err != nil {
		return cp, info, fmt.Errorf("checkpoint %s: %w: %w", path, ErrCheckpointFormat, err)
	}
	if cp.Format != CheckpointFormat || cp.Version != CheckpointVersion {
		return cp, info, fmt.Errorf("checkpoint %s: %w: format %q version %d", path, ErrCheckpointFormat, cp.Format, cp.Version)
	}
	return cp, info, nil
}
