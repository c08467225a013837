package orchestrator

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/rl"
	"github.com/tars-ops/tarsctl/internal/serviceapi"
	"github.com/tars-ops/tarsctl/internal/services/daemontest"
	"github.com/tars-ops/tarsctl/internal/state"
	"github.com/tars-ops/tarsctl/internal/testenv"
	"github.com/tars-ops/tarsctl/pkg/client"
)

func TestAPIAuthAndValidation(t *testing.T) {
	t.Parallel()
	d := startOrchestrator(t, testConfig(t, nil), nil)
	viewer, operator := token(t, "vera", "viewer"), token(t, "otto", "operator")
	train := d.URL + "/api/agents/a1/train"

	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/agents"}, {"GET", "/api/agents/a1"}, {"POST", "/api/agents/a1/train"}, {"PUT", "/api/agents/a1/hyperparameters"},
	} {
		if r := do(t, tc.method, d.URL+tc.path, "", map[string]int{"episodes": 1}); r.Code != 401 || r.Body["message"] != "Invalid or expired token" {
			t.Errorf("%s %s without a token: %d %s, want 401", tc.method, tc.path, r.Code, r.Raw)
		}
	}
	if r := do(t, "GET", d.URL+"/api/agents", "not-a-jwt", nil); r.Code != 401 {
		t.Errorf("garbage token: %d", r.Code)
	}
	if r := do(t, "POST", train, viewer, map[string]int{"episodes": 5}); r.Code != 403 || r.Body["error"] != "Forbidden" {
		t.Errorf("viewer training: %d %s, want 403", r.Code, r.Raw)
	}
	if r := do(t, "PUT", d.URL+"/api/agents/a1/hyperparameters", viewer, map[string]float64{"discount": 0.9}); r.Code != 403 {
		t.Errorf("viewer setting hyperparameters: %d %s, want 403", r.Code, r.Raw)
	}
	if r := do(t, "GET", d.URL+"/api/agents", viewer, nil); r.Code != 200 || r.Body["count"] != float64(0) {
		t.Errorf("viewer listing: %d %s", r.Code, r.Raw)
	}

	bad := []struct {
		name, url string
		body      any
		want      int
	}{
		{"no episodes", train, map[string]any{}, 400},
		{"zero episodes", train, map[string]int{"episodes": 0}, 400},
		{"too many episodes", train, map[string]int{"episodes": client.MaxEpisodes + 1}, 400},
		{"unknown field", train, map[string]int{"episodes": 1, "epochs": 3}, 400},
		{"bad learning rate", train, map[string]any{"episodes": 1, "hyperparameters": map[string]float64{"learning_rate": 0}}, 400},
		{"bad id", d.URL + "/api/agents/-x/train", map[string]int{"episodes": 1}, 400},
		{"missing agent", d.URL + "/api/agents/nobody", nil, 404},
		{"hyperparameters of a missing agent", d.URL + "/api/agents/nobody/hyperparameters", map[string]float64{"discount": 0.9}, 404},
	}
	for _, b := range bad {
		method := "POST"
		switch {
		case strings.HasSuffix(b.url, "/hyperparameters"):
			method = "PUT"
		case b.body == nil:
			method = "GET"
		}
		if r := do(t, method, b.url, operator, b.body); r.Code != b.want {
			t.Errorf("%s: %d %s, want %d", b.name, r.Code, r.Raw, b.want)
		}
	}
	if r := do(t, "GET", d.URL+"/api/agents", viewer, nil); r.Body["count"] != float64(0) {
		t.Errorf("rejected requests created agents: %s", r.Raw)
	}
}

func TestTrainListSetOverHTTP(t *testing.T) {
	t.Parallel()
	d := startOrchestrator(t, testConfig(t, nil), nil)
	viewer, operator := token(t, "vera", "viewer"), token(t, "otto", "operator")

	r := do(t, "POST", d.URL+"/api/agents/cart-1/train", operator, map[string]any{"episodes": 50, "seed": 3})
	if r.Code != 200 {
		t.Fatalf("train: %d %s", r.Code, r.Raw)
	}
	var res client.TrainResult
	r.Decode(t, &res)
	if !res.Created || res.Episodes != 50 || res.Agent.Episodes != 50 || res.Agent.Seed != 3 || res.Agent.Status != client.AgentIdle || res.MeanReward <= 0 {
		t.Errorf("train result: %+v", res)
	}
	if !regexp.MustCompile(`INFO \[orchestration-agent\] Training completed agent=cart-1 episodes=50 mean_reward=[0-9]+\.[0-9]{2} duration=[0-9]+ms`).MatchString(d.Logs.String()) {
		t.Errorf("no runbook training line in the log:\n%s", d.Logs)
	}

	// A second run continues the same agent.
	r = do(t, "POST", d.URL+"/api/agents/cart-1/train", operator, map[string]any{"episodes": 10})
	r.Decode(t, &res)
	if r.Code != 200 || res.Created || res.Agent.Episodes != 60 || res.Agent.TrainingRuns != 2 {
		t.Errorf("second run: %d %+v", r.Code, res)
	}
	if r := do(t, "POST", d.URL+"/api/agents/cart-1/train", operator, map[string]any{"episodes": 1, "seed": 4}); r.Code != 409 {
		t.Errorf("another seed for an existing agent: %d %s, want 409", r.Code, r.Raw)
	}

	r = do(t, "PUT", d.URL+"/api/agents/cart-1/hyperparameters", operator, map[string]float64{"learning_rate": 0.25, "epsilon": 0.3})
	var a client.Agent
	r.Decode(t, &a)
	want := rl.DefaultHyperparameters()
	want.LearningRate, want.Epsilon = 0.25, 0.3
	if r.Code != 200 || a.Hyperparameters != client.Hyperparameters(want) || a.Exploration != 0.3 {
		t.Errorf("set hyperparameters: %d %s", r.Code, r.Raw)
	}
	if r := do(t, "PUT", d.URL+"/api/agents/cart-1/hyperparameters", operator, map[string]float64{"epsilon_min": 0.5}); r.Code != 400 {
		t.Errorf("epsilon_min above epsilon: %d %s, want 400", r.Code, r.Raw)
	}
	if r := do(t, "PUT", d.URL+"/api/agents/cart-1/hyperparameters", operator, map[string]float64{}); r.Code != 400 {
		t.Errorf("empty update: %d %s, want 400", r.Code, r.Raw)
	}

	r = do(t, "GET", d.URL+"/api/agents", viewer, nil)
	var list client.AgentList
	r.Decode(t, &list)
	if list.Count != 1 || list.Agents[0].ID != "cart-1" || list.Agents[0].Name != "cart-1" || list.Agents[0].Type != "q-learning" ||
		list.Agents[0].Hyperparameters.LearningRate != 0.25 || list.Agents[0].Reward != list.Agents[0].LastReward {
		t.Errorf("list: %s", r.Raw)
	}

	for name, want := range map[string]string{
		"orchestrator_training_episodes_total":         `orchestrator_training_episodes_total{agent="cart-1"} 60`,
		"orchestrator_training_duration_seconds_count": `orchestrator_training_duration_seconds_count 2`,
		"orchestrator_training_runs_total{outcome=\"c": `orchestrator_training_runs_total{outcome="completed"} 2`,
		"orchestrator_agent_mean_reward":               `orchestrator_agent_mean_reward{agent="cart-1"}`,
		"orchestrator_agents":                          `orchestrator_agents 1`,
	} {
		if got := metric(t, d.URL, name); !strings.Contains(got, want) {
			t.Errorf("metric %s: got %q, want %q", name, got, want)
		}
	}
	if r := do(t, "GET", d.URL+"/health", "", nil); r.Code != 200 || r.Body["checks"].(map[string]any)["checkpoints"] != "ok" {
		t.Errorf("health: %d %s", r.Code, r.Raw)
	}
}

// Same seed, same training: two agents created with one seed learn the same
// Q-table and rewards.
func TestTrainingReproducibleOverHTTP(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, nil)
	d := startOrchestrator(t, cfg, nil)
	operator := token(t, "otto", "operator")
	var results [3]client.TrainResult
	for i, id := range []string{"twin-a", "twin-b", "other"} {
		seed := 11
		if id == "other" {
			seed = 12
		}
		r := do(t, "POST", d.URL+"/api/agents/"+id+"/train", operator, map[string]any{"episodes": 120, "seed": seed})
		if r.Code != 200 {
			t.Fatalf("train %s: %d %s", id, r.Code, r.Raw)
		}
		r.Decode(t, &results[i])
	}
	if results[0].MeanReward != results[1].MeanReward || results[0].Agent.Exploration != results[1].Agent.Exploration {
		t.Errorf("same seed, different runs: %+v vs %+v", results[0], results[1])
	}
	if results[0].MeanReward == results[2].MeanReward {
		t.Errorf("different seeds gave the same mean reward %v", results[0].MeanReward)
	}
	qa := readPlain(t, filepath.Join(CheckpointDir(cfg), "twin-a.qtable")).Learner.Q
	qb := readPlain(t, filepath.Join(CheckpointDir(cfg), "twin-b.qtable")).Learner.Q
	if !slices.Equal(qa, qb) {
		t.Error("same seed, different Q-tables")
	}
}

func readPlain(t testing.TB, path string) checkpoint {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		t.Fatalf("%s is not a plain JSON checkpoint: %v", path, err)
	}
	return cp
}

// A restarted daemon continues an agent exactly where it stopped: its
// rewards are those of a learner that was never interrupted.
func TestCheckpointSurvivesRestart(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, nil)
	operator := token(t, "otto", "operator")
	d := startOrchestrator(t, cfg, nil)
	r := do(t, "POST", d.URL+"/api/agents/keeper/train", operator, map[string]any{"episodes": 80, "seed": 5})
	if r.Code != 200 {
		t.Fatalf("train: %d %s", r.Code, r.Raw)
	}
	var before client.Agent
	do(t, "GET", d.URL+"/api/agents/keeper", operator, nil).Decode(t, &before)
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(CheckpointDir(cfg), "keeper.qtable")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("checkpoint %s: %v %v", path, fi, err)
	}

	d2 := startOrchestrator(t, cfg, nil)
	var after client.Agent
	do(t, "GET", d2.URL+"/api/agents/keeper", operator, nil).Decode(t, &after)
	if after.Episodes != 80 || after.MeanReward != before.MeanReward || after.Seed != 5 || after.Exploration != before.Exploration ||
		!after.CreatedAt.Equal(before.CreatedAt) || after.TrainingRuns != 1 {
		t.Errorf("after restart %+v, before %+v", after, before)
	}
	var res client.TrainResult
	do(t, "POST", d2.URL+"/api/agents/keeper/train", operator, map[string]any{"episodes": 40}).Decode(t, &res)

	l, err := rl.NewLearner(&rl.CartPole{}, rl.DefaultHyperparameters(), 5)
	if err != nil {
		t.Fatal(err)
	}
	rewards, _ := l.Train(context.Background(), 120, nil)
	if want := mean(rewards[80:]); res.MeanReward != want || res.Agent.Episodes != 120 {
		t.Errorf("after restart the next 40 episodes average %v over %d episodes; uninterrupted: %v", res.MeanReward, res.Agent.Episodes, want)
	}
}

func writeKey(t testing.TB) (string, []byte) {
	t.Helper()
	key := bytes.Repeat([]byte{0}, crypto.KeySize)
	for i := range key {
		key[i] = byte(i*7 + 1)
	}
	path := filepath.Join(t.TempDir(), "aes.key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, key
}

func TestEncryptedCheckpoints(t *testing.T) {
	t.Parallel()
	keyFile, key := writeKey(t)
	cfg := testConfig(t, func(c *config.Config) { c.Encryption.Enabled, c.Encryption.KeyFile = true, keyFile })
	operator := token(t, "otto", "operator")

	d := startOrchestrator(t, cfg, nil)
	if r := do(t, "POST", d.URL+"/api/agents/secret-agent/train", operator, map[string]any{"episodes": 30, "seed": 9}); r.Code != 200 {
		t.Fatalf("train: %d %s", r.Code, r.Raw)
	}
	logs := d.Logs.String()
	if !strings.Contains(logs, "AES key loaded key_id="+crypto.KeyID(key)) {
		t.Errorf("no 'AES key loaded' line with the key id:\n%s", logs)
	}
	if strings.Contains(logs, hex.EncodeToString(key)) {
		t.Error("the log shows the key")
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(CheckpointDir(cfg), "secret-agent.qtable")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte(crypto.Magic)) || bytes.Contains(raw, []byte("secret-agent")) {
		t.Fatalf("checkpoint is not in the encrypted format: %q...", raw[:min(len(raw), 40)])
	}
	if id, err := crypto.ReadKeyID(bytes.NewReader(raw)); err != nil || id != crypto.KeyID(key) {
		t.Errorf("ReadKeyID = %q, %v; want %s", id, err, crypto.KeyID(key))
	}
	// Anyone with the key and internal/crypto reads the documented JSON.
	ring, _ := crypto.NewKeyring(key)
	dec, err := crypto.NewReader(bytes.NewReader(raw), ring)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(dec)
	if err != nil {
		t.Fatal(err)
	}
	var cp checkpoint
	if err := json.Unmarshal(plain, &cp); err != nil || cp.AgentID != "secret-agent" || cp.Learner.Episodes != 30 || cp.Format != CheckpointFormat {
		t.Fatalf("decrypted checkpoint: %v %s", err, plain)
	}

	// The same key reads it back after a restart.
	d2 := startOrchestrator(t, cfg, nil)
	var a client.Agent
	if r := do(t, "GET", d2.URL+"/api/agents/secret-agent", operator, nil); r.Code != 200 {
		t.Fatalf("after restart: %d %s", r.Code, r.Raw)
	} else {
		r.Decode(t, &a)
	}
	if a.Status != client.AgentIdle || a.Episodes != 30 {
		t.Errorf("after restart with the key: %+v", a)
	}
	if err := d2.Stop(); err != nil {
		t.Fatal(err)
	}

	// A different key cannot read it: the agent is listed in error, changes
	// are refused, the file is untouched and /health says why.
	otherKey := filepath.Join(t.TempDir(), "other.key")
	os.WriteFile(otherKey, []byte(strings.Repeat("ab", 32)), 0o600)
	wrong := *cfg
	wrong.Encryption.KeyFile = otherKey
	d3 := startOrchestrator(t, &wrong, nil)
	do(t, "GET", d3.URL+"/api/agents/secret-agent", operator, nil).Decode(t, &a)
	if a.Status != client.AgentError || !strings.Contains(a.Error, crypto.KeyID(key)) {
		t.Errorf("with the wrong key: %+v", a)
	}
	if r := do(t, "POST", d3.URL+"/api/agents/secret-agent/train", operator, map[string]any{"episodes": 1}); r.Code != 409 {
		t.Errorf("training an unreadable agent: %d %s, want 409", r.Code, r.Raw)
	}
	if r := do(t, "PUT", d3.URL+"/api/agents/secret-agent/hyperparameters", operator, map[string]any{"discount": 0.5}); r.Code != 409 {
		t.Errorf("changing an unreadable agent: %d %s, want 409", r.Code, r.Raw)
	}
	if r := do(t, "GET", d3.URL+"/health", "", nil); r.Code != 503 || !strings.Contains(r.Raw, "secret-agent") {
		t.Errorf("health with an unreadable checkpoint: %d %s", r.Code, r.Raw)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, raw) {
		t.Error("the unreadable checkpoint was modified")
	}
}

func TestEncryptionNeedsAKey(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, func(c *config.Config) { c.Encryption.Enabled = true })
	err := Run(context.Background(), RunOptions{Config: cfg, Getenv: testGetenv, Listener: Listen(t, "")})
	if !errors.Is(err, ErrNoKeyFile) {
		t.Errorf("Run with encryption on and no key file: %v", err)
	}
}

// hookedOrchestrator serves an orchestrator whose training runs stop in
// the episode hook until the test lets them go.
type hookedOrchestrator struct {
	*running
	o       *Orchestrator
	entered chan string   // an agent's run reached its first episode's end
	queued  chan string   // a run started waiting for a worker
	release chan struct{} // closed to let runs continue
}

func startHooked(t *testing.T, workers int) *hookedOrchestrator {
	t.Helper()
	cfg := testConfig(t, nil)
	h := &hookedOrchestrator{entered: make(chan string, 10), queued: make(chan string, 10), release: make(chan struct{})}
	logs := &syncBuffer{}
	log := daemon.NewLogger(logs, daemon.LogOptions{Service: Service, Format: "text", Level: "INFO"})
	o, err := New(Options{Dir: CheckpointDir(cfg), Logger: log, Registry: prometheus.NewRegistry(), Workers: workers,
		testOnlyOnEpisode: func(id string, episode int) {
			if episode == 0 && strings.HasPrefix(id, "held") {
				h.entered <- id
				<-h.release
			}
		},
		testOnlyOnQueue: func(id string) {
			select {
			case h.queued <- id:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.o = o
	authn, err := serviceapi.NewAuthenticator(serviceapi.AuthOptions{Enabled: cfg.Auth.Enabled, RBAC: cfg.Auth.RBAC, Signer: mustSigner(t), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ln := Listen(t, "")
	h.running = daemontest.Serve(t, ln, logs, func(ctx context.Context, onReady func(net.Addr)) error {
		return daemon.Run(ctx, daemon.Options{Service: Service, Listener: ln, Handler: NewHandler(o, authn, log), Logger: log, OnReady: onReady})
	})
	t.Cleanup(func() {
		select {
		case <-h.release:
		default:
			close(h.release)
		}
	})
	return h
}

func mustSigner(t testing.TB) *auth.Signer {
	t.Helper()
	s, err := auth.NewSigner(testSecret, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Training runs do not block reads, changes or other agents' runs; a second
// run of a training agent gets 409; hyperparameters set during a run apply
// from the next episode and are saved at once.
func TestTrainingDoesNotBlock(t *testing.T) {
	t.Parallel()
	h := startHooked(t, 2)
	operator := token(t, "otto", "operator")

	held := make(chan response, 1)
	go func() {
		held <- do(t, "POST", h.URL+"/api/agents/held-1/train", operator, map[string]any{"episodes": 20, "seed": 1})
	}()
	if id := <-h.entered; id != "held-1" {
		t.Fatalf("entered %s", id)
	}

	var a client.Agent
	do(t, "GET", h.URL+"/api/agents/held-1", operator, nil).Decode(t, &a)
	if a.Status != client.AgentTraining || a.Episodes != 1 {
		t.Errorf("while training: %+v", a)
	}
	if r := do(t, "POST", h.URL+"/api/agents/held-1/train", operator, map[string]any{"episodes": 5}); r.Code != 409 {
		t.Errorf("second run of a training agent: %d %s, want 409", r.Code, r.Raw)
	}
	if r := do(t, "PUT", h.URL+"/api/agents/held-1/hyperparameters", operator, map[string]any{"learning_rate": 0.3}); r.Code != 200 {
		t.Errorf("hyperparameters while training: %d %s", r.Code, r.Raw)
	}
	// Saved before the run ends: a crash now would not lose the change.
	cp := readPlain(t, filepath.Join(h.o.opts.Dir, "held-1.qtable"))
	if cp.Learner.Hyperparameters.LearningRate != 0.3 {
		t.Errorf("checkpoint during the run has learning_rate %v, want 0.3", cp.Learner.Hyperparameters.LearningRate)
	}
	if r := do(t, "POST", h.URL+"/api/agents/free/train", operator, map[string]any{"episodes": 5}); r.Code != 200 {
		t.Errorf("another agent while one trains: %d %s", r.Code, r.Raw)
	}

	close(h.release)
	r := <-held
	var res client.TrainResult
	r.Decode(t, &res)
	if r.Code != 200 || res.Episodes != 20 || res.Agent.Hyperparameters.LearningRate != 0.3 || res.Agent.Status != client.AgentIdle {
		t.Errorf("held run: %d %s", r.Code, r.Raw)
	}

	// The change took effect from episode 2: the same as a learner changed
	// after its first episode.
	l, _ := rl.NewLearner(&rl.CartPole{}, rl.DefaultHyperparameters(), 1)
	rewards, _ := l.Train(context.Background(), 1, nil)
	hp := rl.DefaultHyperparameters()
	hp.LearningRate = 0.3
	_ = l.SetHyperparameters(hp)
	more, _ := l.Train(context.Background(), 19, nil)
	if want := mean(append(rewards, more...)); res.MeanReward != want {
		t.Errorf("mean reward %v, want %v (hyperparameters applied from the second episode)", res.MeanReward, want)
	}
}

// A run whose client goes away stops after the current episode, keeps and
// saves what it learnt, and logs "Training failed".
func TestTrainingCancelled(t *testing.T) {
	t.Parallel()
	h := startHooked(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := h.o.Train(ctx, "held-2", client.TrainRequest{Episodes: 50})
		errc <- err
	}()
	<-h.entered
	cancel()
	close(h.release)
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Train after cancel: %v", err)
	}
	a, err := h.o.Get("held-2")
	if err != nil || a.Episodes != 1 || a.Status != client.AgentIdle {
		t.Errorf("after cancel: %+v %v", a, err)
	}
	if cp := readPlain(t, filepath.Join(h.o.opts.Dir, "held-2.qtable")); cp.Learner.Episodes != 1 {
		t.Errorf("checkpoint after cancel has %d episodes, want 1", cp.Learner.Episodes)
	}
	if !regexp.MustCompile(`ERROR \[orchestration-agent\] Training failed agent=held-2 episodes=1 error=".*context canceled"`).MatchString(h.Logs.String()) {
		t.Errorf("no 'Training failed' line:\n%s", h.Logs)
	}

	// A run cancelled while queued for a worker never creates its agent.
	busy := make(chan error, 1)
	h2 := startHooked(t, 1)
	go func() {
		_, err := h2.o.Train(context.Background(), "held-3", client.TrainRequest{Episodes: 2})
		busy <- err
	}()
	<-h2.entered
	qctx, qcancel := context.WithCancel(context.Background())
	queued := make(chan error, 1)
	go func() {
		_, err := h2.o.Train(qctx, "queued", client.TrainRequest{Episodes: 2})
		queued <- err
	}()
	for id := <-h2.queued; id != "queued"; id = <-h2.queued {
	}
	if a, err := h2.o.Get("queued"); err != nil || a.Status != client.AgentQueued {
		t.Errorf("waiting for a worker: %+v %v", a, err)
	}
	qcancel()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Errorf("queued run: %v", err)
	}
	if _, err := h2.o.Get("queued"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a cancelled queued run left its new agent behind: %v", err)
	}
	close(h2.release)
	if err := <-busy; err != nil {
		t.Error(err)
	}
}

func TestUnreadableCheckpointsDoNotStopStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "junk.qtable"), []byte("{not json"), 0o600)
	os.WriteFile(filepath.Join(dir, "other.qtable"), []byte(`{"format":"something-else","version":1}`), 0o600)
	os.WriteFile(filepath.Join(dir, ".tmp.qtable.tmp-123"), []byte("partial"), 0o600)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o600)
	var logs bytes.Buffer
	o, err := New(Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	bad := o.Unreadable()
	if len(bad) != 2 || !errors.Is(bad["junk"], ErrCheckpointFormat) || !errors.Is(bad["other"], ErrCheckpointFormat) {
		t.Errorf("unreadable = %v", bad)
	}
	if n := o.Len(); n != 2 {
		t.Errorf("%d agents, want the 2 unreadable ones", n)
	}
	if _, err := o.Train(context.Background(), "junk", client.TrainRequest{Episodes: 1}); !errors.Is(err, ErrBroken) {
		t.Errorf("training an unreadable agent: %v", err)
	}
}

func benchmarkTrainHTTP(b *testing.B, episodes int) {
	d := startOrchestrator(b, testConfig(b, nil), nil)
	c, err := client.New(d.URL, client.WithToken(token(b, "bench", "operator")))
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		seed := uint64(i)
		if _, err := c.Train(context.Background(), fmt.Sprintf("bench-%d", i), client.TrainRequest{Episodes: episodes, Seed: &seed}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrainQuick is the runbook's "Agent Training (quick)": a new
// agent, 10 episodes, over HTTP with its checkpoint written (runbook
// baseline 2-5 s; goal < 1 s). BenchmarkTrainFull is "full": 50 episodes
// (runbook 10-20 s; goal < 3 s).
func BenchmarkTrainQuick(b *testing.B) { benchmarkTrainHTTP(b, 10) }
func BenchmarkTrainFull(b *testing.B)  { benchmarkTrainHTTP(b, 50) }

// With redis.enabled the daemons see dashboard-api's revocations: a token
// revoked by a logout is refused at once.
func TestRevokedTokenRefusedWithRedis(t *testing.T) {
	t.Parallel()
	rs := testenv.SharedRedis(t)
	cfg := testConfig(t, func(c *config.Config) {
		c.Redis.Enabled, c.Redis.Mode, c.Redis.Host, c.Redis.Port, c.Redis.Password = true, config.RedisStandalone, "127.0.0.1", rs.Port, ""
	})
	d := startOrchestrator(t, cfg, nil)
	signer := mustSigner(t)
	revoked, claims, err := signer.Issue("leaver", "viewer")
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.OpenRedis(context.Background(), cfg.Redis, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.RevokeToken(context.Background(), claims.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	if r := do(t, "GET", d.URL+"/api/agents", revoked, nil); r.Code != 401 {
		t.Errorf("revoked token: %d %s, want 401", r.Code, r.Raw)
	}
	if r := do(t, "GET", d.URL+"/api/agents", token(t, "stayer", "viewer"), nil); r.Code != 200 {
		t.Errorf("valid token: %d %s", r.Code, r.Raw)
	}
	if r := do(t, "GET", d.URL+"/health", "", nil); r.Code != 200 || r.Body["checks"].(map[string]any)["redis"] != "ok" {
		t.Errorf("health: %d %s", r.Code, r.Raw)
	}
}
