package orchestrator

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tars-ops/tarsctl/internal/agentspec"
	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/rl"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// Errors the [Orchestrator]'s methods wrap; the API maps each to a status
// code.
var (
	// ErrInvalid is a request that cannot be carried out as given: a bad
	// agent id, episode count or hyperparameter (400). It is
	// [agentspec.ErrInvalid], which the shared validators wrap.
	ErrInvalid = agentspec.ErrInvalid
	// ErrNotFound is an agent that does not exist (404).
	ErrNotFound = errors.New("agent not found")
	// ErrBusy is a training request for an agent that is already training
	// or queued to (409).
	ErrBusy = errors.New("agent is already training")
	// ErrSeedConflict is a seed given for an existing agent that was
	// created with another (409).
	ErrSeedConflict = errors.New("seed conflict")
	// ErrBroken is a request for an agent whose checkpoint could not be
	// loaded at start-up (409): its file is kept as it is until an
	// operator fixes the key or removes it.
	ErrBroken = errors.New("agent checkpoint unreadable")
)

// AgentType is the learning method every agent uses.
const AgentType = "q-learning"

// recentWindow is how many episode rewards the mean reward is taken over.
const recentWindow = 100

// Options configure [New].
type Options struct {
	// Dir holds the checkpoints, one file per agent; it is created if
	// missing.
	Dir string
	// Key, when set, encrypts checkpoints (AES-256-GCM, internal/crypto's
	// format). When nil they are written in plain text.
	Key []byte
	// Keyring decrypts checkpoints; Key is always added to it. Keys of
	// earlier rotations go here.
	Keyring *crypto.Keyring
	Logger  *slog.Logger
	// Registry receives the training metrics; nil registers nothing.
	Registry prometheus.Registerer
	Now      func() time.Time
	// Workers is how many training runs may execute at once (default
	// GOMAXPROCS); further requests queue.
	Workers int
	// NewSeed picks the seed of an agent created without one (default:
	// random, below 2^53 so JSON readers keep it exact).
	NewSeed func() uint64

	// testOnlyOnEpisode is called after each episode, outside any lock;
	// tests block in it to hold a run in progress.
	testOnlyOnEpisode func(id string, episode int)
	// testOnlyOnQueue is called when a run starts waiting for a worker.
	testOnlyOnQueue func(id string)
}

// Orchestrator is the registry of agents: it trains them, changes their
// hyperparameters and keeps their checkpoints. It is safe for concurrent
// use; training runs of different agents run in parallel, up to
// Options.Workers at once, and never block reads.
type Orchestrator struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	workers chan struct{}

	// keys are the checkpoint keys in force; SetKeys swaps them (SIGHUP).
	// A checkpoint write holds keyMu for reading from the moment it picks
	// the key until its rename, so that once SetKeys returns no write
	// sealed with the previous key is still to land.
	keys  atomic.Pointer[keySet]
	keyMu sync.RWMutex

	mu     sync.RWMutex
	agents map[string]*agent
}

// keySet is the key that seals checkpoints (nil: plain text) and the
// keyring that opens them.
type keySet struct {
	seal []byte
	ring *crypto.Keyring
}

// SetKeys replaces the checkpoint keys: from now on checkpoints are sealed
// with key (nil: written in plain text) and opened with ring, to which key
// is added. Writes already under way finish with the keys they started
// with. Agents whose checkpoint could not be opened with the old keys are
// loaded again with the new ones.
func (o *Orchestrator) SetKeys(key []byte, ring *crypto.Keyring) error {
	ks, err := newKeySet(key, ring)
	if err != nil {
		return err
	}
	o.keyMu.Lock()
	o.keys.Store(ks)
	o.keyMu.Unlock()
	o.retryUnreadable()
	return nil
}

func newKeySet(key []byte, ring *crypto.Keyring) (*keySet, error) {
	r, err := crypto.NewKeyring()
	if err != nil {
		return nil, err
	}
	if ring != nil {
		for _, id := range ring.IDs() {
			k, _ := ring.Lookup(id)
			if _, err := r.Add(k); err != nil {
				return nil, err
			}
		}
	}
	if key != nil {
		if _, err := r.Add(key); err != nil {
			return nil, fmt.Errorf("checkpoint key: %w", err)
		}
	}
	return &keySet{seal: key, ring: r}, nil
}

// agent is one learner and what is known about it.
type agent struct {
	id string

	// saveMu serialises checkpoint writes; it is taken before mu.
	saveMu sync.Mutex

	mu      sync.Mutex
	status  string
	loadErr error // the checkpoint could not be loaded: status error, and nothing may change
	// learner is owned by the training run while status is queued or
	// training; otherwise it is guarded by mu.
	learner *rl.Learner
	// hp is the agent's hyperparameters as last set. While training,
	// hpDirty says the learner has yet to pick them up (at its next
	// episode).
	hp      rl.Hyperparameters
	hpDirty bool
	live    stats // updated after every episode
	// base is the learner's state at the end of its last training run (or
	// at load): a checkpoint is base with the hyperparameters of hp, so
	// that a change made during a run is durable before the run ends.
	base      rl.Snapshot
	baseStats stats
	created   time.Time
	updated   time.Time
	// forgotten is set when a new agent's first run was cancelled before
	// it started: the agent is no longer in the registry.
	forgotten bool
}

// stats summarise an agent's episodes.
type stats struct {
	episodes    int
	exploration float64
	last, best  float64
	recent      []float64 // the last recentWindow rewards, oldest first
	runs        int
	lastTrained time.Time
}

func (s *stats) record(reward float64, episodes int, exploration float64) {
	if len(s.recent) == recentWindow {
		s.recent = append(s.recent[:0], s.recent[1:]...)
	}
	if s.episodes == 0 || reward > s.best {
		s.best = reward
	}
	s.recent = append(s.recent, reward)
	s.last, s.episodes, s.exploration = reward, episodes, exploration
}

func (s stats) clone() stats {
	s.recent = slices.Clone(s.recent)
	return s
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// New loads the checkpoints in opts.Dir and returns the orchestrator. A
// checkpoint that cannot be read (damaged, or encrypted with a key that is
// not in the keyring) does not stop it: the agent is listed with status
// error and its file is left alone; [Orchestrator.Unreadable] names them.
func New(opts Options) (*Orchestrator, error) {
	if opts.Dir == "" {
		return nil, errors.New("orchestrator: Options.Dir is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.NewSeed == nil {
		opts.NewSeed = randomSeed
	}
	ks, err := newKeySet(opts.Key, opts.Keyring)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create checkpoint directory: %w", err)
	}
	o := &Orchestrator{
		opts:    opts,
		log:     opts.Logger,
		workers: make(chan struct{}, opts.Workers),
		agents:  map[string]*agent{},
	}
	o.keys.Store(ks)
	m, err := newMetrics(opts.Registry, o)
	if err != nil {
		return nil, err
	}
	o.metrics = m
	if err := o.load(); err != nil {
		return nil, err
	}
	return o, nil
}

func randomSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) >> 11
}

// load reads every checkpoint in the directory.
func (o *Orchestrator) load() error {
	entries, err := os.ReadDir(o.opts.Dir)
	if err != nil {
		return fmt.Errorf("read checkpoint directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		id, ok := strings.CutSuffix(name, CheckpointExt)
		// Dot files are atomicfile's temporaries from an interrupted write.
		if !ok || strings.HasPrefix(name, ".") || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(o.opts.Dir, name)
		if err := agentspec.ValidateID(id); err != nil {
			o.log.Warn("Ignoring checkpoint with an invalid agent id", "file", path, "error", err)
			continue
		}
		a := &agent{id: id}
		o.loadAgent(a, path)
		o.agents[id] = a
		o.metrics.observeAgent(a)
	}
	o.log.Info(fmt.Sprintf("Loaded %d agent checkpoint(s) from %s", len(o.agents), o.opts.Dir), "unreadable", len(o.Unreadable()))
	return nil
}

// loadAgent fills a from its checkpoint at path, or marks it unreadable.
// a.mu must be held or a not yet shared.
func (o *Orchestrator) loadAgent(a *agent, path string) {
	ks := o.keys.Load()
	id := a.id
	cp, info, err := readCheckpoint(path, ks.ring)
	if err == nil && cp.AgentID != id {
		err = fmt.Errorf("checkpoint %s holds agent %q", path, cp.AgentID)
	}
	var l *rl.Learner
	if err == nil {
		l, err = rl.Restore(cp.Learner)
		if err != nil {
			err = fmt.Errorf("checkpoint %s: %w", path, err)
		}
	}
	if err != nil {
		o.log.Error("Checkpoint unreadable: agent "+id+" is listed with status error and its file left as it is", "file", path, "error", err)
		a.status, a.loadErr = client.AgentError, err
		a.created, a.updated = o.opts.Now().UTC(), o.opts.Now().UTC()
		return
	}
	switch {
	case info.encrypted && ks.seal == nil:
		o.log.Warn("Checkpoint is encrypted but encryption is off: it will be rewritten in plain text when the agent next changes", "agent", id, "key_id", info.keyID)
	case !info.encrypted && ks.seal != nil:
		o.log.Info("Checkpoint is in plain text: it will be encrypted when the agent next changes", "agent", id)
	case info.encrypted && info.keyID != crypto.KeyID(ks.seal):
		o.log.Info("Checkpoint is encrypted with an older key: it will be re-encrypted with the current one when the agent next changes", "agent", id, "key_id", info.keyID)
	}
	a.status, a.loadErr = client.AgentIdle, nil
	a.learner = l
	a.hp = l.Hyperparameters()
	a.base = cp.Learner
	a.live = stats{
		episodes: l.Episodes(), exploration: l.Exploration(), last: cp.LastReward, best: cp.BestReward,
		recent: cp.RecentRewards, runs: cp.TrainingRuns, lastTrained: cp.LastTrainedAt,
	}
	a.baseStats = a.live.clone()
	a.created, a.updated = cp.CreatedAt, cp.UpdatedAt
}

// retryUnreadable loads again the agents whose checkpoint was sealed with
// a key the keyring lacked, after the keys changed.
func (o *Orchestrator) retryUnreadable() {
	o.mu.RLock()
	var list []*agent
	for _, a := range o.agents {
		list = append(list, a)
	}
	o.mu.RUnlock()
	for _, a := range list {
		a.mu.Lock()
		if errors.Is(a.loadErr, crypto.ErrUnknownKey) {
			o.loadAgent(a, filepath.Join(o.opts.Dir, a.id+CheckpointExt))
			if a.loadErr == nil {
				o.log.Info("Checkpoint readable with the new keyring: agent "+a.id+" is loaded", "agent", a.id)
			}
		}
		a.mu.Unlock()
		o.metrics.observeAgent(a)
	}
}

// Unreadable lists the agents whose checkpoint could not be loaded, with
// why.
func (o *Orchestrator) Unreadable() map[string]error {
	o.mu.RLock()
	defer o.mu.RUnlock()
	out := map[string]error{}
	for id, a := range o.agents {
		a.mu.Lock()
		if a.loadErr != nil {
			out[id] = a.loadErr
		}
		a.mu.Unlock()
	}
	return out
}

// Len is the number of agents.
func (o *Orchestrator) Len() int {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return len(o.agents)
}

// List returns every agent, sorted by id.
func (o *Orchestrator) List() []client.Agent {
	o.mu.RLock()
	list := make([]*agent, 0, len(o.agents))
	for _, a := range o.agents {
		list = append(list, a)
	}
	o.mu.RUnlock()
	out := make([]client.Agent, 0, len(list))
	for _, a := range list {
		a.mu.Lock()
		out = append(out, a.view())
		a.mu.Unlock()
	}
	slices.SortFunc(out, func(x, y client.Agent) int { return strings.Compare(x.ID, y.ID) })
	return out
}

// Get returns one agent.
func (o *Orchestrator) Get(id string) (client.Agent, error) {
	a, err := o.lookup(id)
	if err != nil {
		return client.Agent{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.view(), nil
}

func (o *Orchestrator) lookup(id string) (*agent, error) {
	o.mu.RLock()
	a := o.agents[id]
	o.mu.RUnlock()
	if a == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return a, nil
}

// view is the agent as the API shows it; a.mu must be held.
func (a *agent) view() client.Agent {
	v := client.Agent{
		ID: a.id, Name: a.id, Type: AgentType, Environment: rl.CartPoleName, Status: a.status,
		Episodes: a.live.episodes, Reward: a.live.last, LastReward: a.live.last,
		MeanReward: mean(a.live.recent), BestReward: a.live.best, Exploration: a.live.exploration,
		Hyperparameters: toClient(a.hp), TrainingRuns: a.live.runs,
		CreatedAt: a.created, UpdatedAt: a.updated, LastTrainedAt: a.live.lastTrained,
	}
	if a.learner != nil {
		v.Environment, v.Seed = a.base.Environment, a.base.Seed
	}
	if a.loadErr != nil {
		v.Error = a.loadErr.Error()
	}
	return v
}

func toClient(h rl.Hyperparameters) client.Hyperparameters {
	return client.Hyperparameters(h)
}

// applyUpdate returns h changed by u, validated.
func applyUpdate(h rl.Hyperparameters, u *client.HyperparameterUpdate) (rl.Hyperparameters, error) {
	if u == nil {
		return h, nil
	}
	next := rl.Hyperparameters(u.Apply(client.Hyperparameters(h)))
	if err := next.Validate(); err != nil {
		return h, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return next, nil
}

// SetHyperparameters changes an agent's hyperparameters and writes its
// checkpoint before returning. An agent that is training picks them up
// from its next episode.
func (o *Orchestrator) SetHyperparameters(id string, u client.HyperparameterUpdate) (client.Agent, error) {
	if err := agentspec.ValidateID(id); err != nil {
		return client.Agent{}, err
	}
	if u.IsEmpty() {
		return client.Agent{}, fmt.Errorf("%w: no hyperparameters given", ErrInvalid)
	}
	a, err := o.lookup(id)
	if err != nil {
		return client.Agent{}, err
	}
	a.saveMu.Lock()
	defer a.saveMu.Unlock()
	a.mu.Lock()
	if a.forgotten {
		a.mu.Unlock()
		return client.Agent{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if a.loadErr != nil {
		a.mu.Unlock()
		return client.Agent{}, fmt.Errorf("%w: %w", ErrBroken, a.loadErr)
	}
	hp, err := applyUpdate(a.hp, &u)
	if err != nil {
		a.mu.Unlock()
		return client.Agent{}, err
	}
	a.hp = hp
	if a.status == client.AgentIdle {
		_ = a.learner.SetHyperparameters(hp) // validated above
		a.live.exploration = a.learner.Exploration()
		a.base = a.learner.Snapshot()
	} else {
		a.hpDirty = true
	}
	a.updated = o.opts.Now().UTC()
	view := a.view()
	data, err := a.checkpointLocked()
	a.mu.Unlock()
	if err == nil {
		err = o.write(id, data)
	}
	if err != nil {
		o.log.Error("Hyperparameters changed but the checkpoint could not be written", "agent", id, "error", err)
		return client.Agent{}, err
	}
	o.log.Info(fmt.Sprintf("Hyperparameters updated agent=%s learning_rate=%g discount=%g epsilon=%g epsilon_decay=%g epsilon_min=%g",
		id, hp.LearningRate, hp.Discount, hp.Epsilon, hp.EpsilonDecay, hp.EpsilonMin), "status", view.Status)
	return view, nil
}

// Train runs req.Episodes episodes of the agent, creating it if it does
// not exist, and writes its checkpoint. It returns when the run has
// finished; if ctx is cancelled it stops after the current episode, keeps
// and saves what was learnt, and returns ctx's error. A run waits for a
// free worker first.
func (o *Orchestrator) Train(ctx context.Context, id string, req client.TrainRequest) (client.TrainResult, error) {
	if err := agentspec.ValidateID(id); err != nil {
		return client.TrainResult{}, err
	}
	if req.Episodes < client.MinEpisodes || req.Episodes > client.MaxEpisodes {
		return client.TrainResult{}, fmt.Errorf("%w: episodes must be from %d to %d, got %d", ErrInvalid, client.MinEpisodes, client.MaxEpisodes, req.Episodes)
	}
	a, created, err := o.reserve(id, req)
	if err != nil {
		return client.TrainResult{}, err
	}

	if o.opts.testOnlyOnQueue != nil {
		o.opts.testOnlyOnQueue(id)
	}
	select {
	case o.workers <- struct{}{}:
	case <-ctx.Done():
		o.unreserve(a, created)
		o.log.Error(fmt.Sprintf("Training failed agent=%s episodes=0 error=%q", id, "cancelled while waiting for a worker"), "request_id", daemon.RequestID(ctx))
		o.metrics.runs.WithLabelValues("failed").Inc()
		return client.TrainResult{}, ctx.Err()
	}
	defer func() { <-o.workers }()

	a.mu.Lock()
	a.status = client.AgentTraining
	l := a.learner
	a.mu.Unlock()

	start := time.Now()
	rewards := make([]float64, 0, req.Episodes)
	var trainErr error
	for i := range req.Episodes {
		if trainErr = ctx.Err(); trainErr != nil {
			break
		}
		// Hyperparameters set since the last episode apply from this one.
		a.mu.Lock()
		if a.hpDirty {
			_ = l.SetHyperparameters(a.hp) // validated when set
			a.live.exploration = l.Exploration()
			a.hpDirty = false
		}
		a.mu.Unlock()
		r := l.RunEpisode()
		rewards = append(rewards, r)
		a.mu.Lock()
		a.live.record(r, l.Episodes(), l.Exploration())
		a.mu.Unlock()
		o.metrics.episodes.WithLabelValues(id).Inc()
		if o.opts.testOnlyOnEpisode != nil {
			o.opts.testOnlyOnEpisode(id, i)
		}
	}
	elapsed := time.Since(start)

	a.saveMu.Lock()
	a.mu.Lock()
	if a.hpDirty {
		_ = l.SetHyperparameters(a.hp)
		a.live.exploration = l.Exploration()
		a.hpDirty = false
	}
	now := o.opts.Now().UTC()
	if len(rewards) > 0 {
		a.live.runs++
		a.live.lastTrained = now
		a.updated = now
	}
	a.base, a.baseStats = l.Snapshot(), a.live.clone()
	a.status = client.AgentIdle
	view := a.view()
	var saveErr error
	if len(rewards) > 0 || created || req.Hyperparameters != nil {
		var data []byte
		data, saveErr = a.checkpointLocked()
		a.mu.Unlock()
		if saveErr == nil {
			saveErr = o.write(id, data)
		}
	} else {
		a.mu.Unlock()
	}
	a.saveMu.Unlock()
	o.metrics.observeAgent(a)

	res := client.TrainResult{
		AgentID: id, Created: created, Episodes: len(rewards), MeanReward: mean(rewards),
		DurationMS: float64(elapsed.Microseconds()) / 1000, Agent: view,
	}
	if len(rewards) > 0 {
		res.LastReward, res.BestReward = rewards[len(rewards)-1], slices.Max(rewards)
	}
	err = trainErr
	if err == nil && saveErr != nil {
		err = fmt.Errorf("write checkpoint: %w", saveErr)
	} else if err != nil {
		err = fmt.Errorf("stopped after %d of %d episodes: %w", len(rewards), req.Episodes, err)
	}
	o.metrics.duration.Observe(elapsed.Seconds())
	if err != nil {
		o.metrics.runs.WithLabelValues("failed").Inc()
		o.log.Error(fmt.Sprintf("Training failed agent=%s episodes=%d error=%q", id, len(rewards), err.Error()),
			"requested", req.Episodes, "request_id", daemon.RequestID(ctx))
		return res, err
	}
	o.metrics.runs.WithLabelValues("completed").Inc()
	o.log.Info(fmt.Sprintf("Training completed agent=%s episodes=%d mean_reward=%.2f duration=%dms",
		id, res.Episodes, res.MeanReward, elapsed.Milliseconds()),
		"last_reward", res.LastReward, "exploration", math.Round(view.Exploration*1e4)/1e4, "request_id", daemon.RequestID(ctx))
	return res, nil
}

// reserve finds or creates the agent and marks it queued, so that a second
// training request gets ErrBusy.
func (o *Orchestrator) reserve(id string, req client.TrainRequest) (*agent, bool, error) {
	o.mu.Lock()
	a := o.agents[id]
	if a == nil {
		hp, err := applyUpdate(rl.DefaultHyperparameters(), req.Hyperparameters)
		if err != nil {
			o.mu.Unlock()
			return nil, false, err
		}
		seed := o.opts.NewSeed()
		if req.Seed != nil {
			seed = *req.Seed
		}
		l, err := rl.NewLearner(&rl.CartPole{}, hp, seed)
		if err != nil {
			o.mu.Unlock()
			return nil, false, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		now := o.opts.Now().UTC()
		a = &agent{
			id: id, status: client.AgentQueued, learner: l, hp: hp, base: l.Snapshot(),
			live: stats{exploration: l.Exploration()}, created: now, updated: now,
		}
		o.agents[id] = a
		o.mu.Unlock()
		o.log.Info("Agent created", "agent", id, "seed", seed, "environment", rl.CartPoleName)
		return a, true, nil
	}
	o.mu.Unlock()

	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.loadErr != nil:
		return nil, false, fmt.Errorf("%w: %w", ErrBroken, a.loadErr)
	case a.status != client.AgentIdle:
		return nil, false, fmt.Errorf("%w: agent %q is %s", ErrBusy, id, a.status)
	case req.Seed != nil && *req.Seed != a.base.Seed:
		return nil, false, fmt.Errorf("%w: agent %q was created with seed %d; a seed can only be chosen for a new agent", ErrSeedConflict, id, a.base.Seed)
	}
	if req.Hyperparameters != nil {
		hp, err := applyUpdate(a.hp, req.Hyperparameters)
		if err != nil {
			return nil, false, err
		}
		a.hp, a.hpDirty = hp, true
	}
	a.status = client.AgentQueued
	return a, false, nil
}

// unreserve undoes reserve for a run that never started: a new agent is
// forgotten, an existing one is idle again.
func (o *Orchestrator) unreserve(a *agent, created bool) {
	if created {
		// A hyperparameter change may have saved the new agent meanwhile.
		a.saveMu.Lock()
		defer a.saveMu.Unlock()
		o.mu.Lock()
		delete(o.agents, a.id)
		o.mu.Unlock()
		a.mu.Lock()
		a.forgotten = true
		a.mu.Unlock()
		if err := os.Remove(filepath.Join(o.opts.Dir, a.id+CheckpointExt)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			o.log.Warn("Could not remove the checkpoint of an agent whose first run was cancelled", "agent", a.id, "error", err)
		}
		return
	}
	a.mu.Lock()
	a.status = client.AgentIdle
	a.mu.Unlock()
}

// write stores an agent's checkpoint.
func (o *Orchestrator) write(id string, data []byte) error {
	o.keyMu.RLock()
	defer o.keyMu.RUnlock()
	return writeCheckpoint(filepath.Join(o.opts.Dir, id+CheckpointExt), data, o.keys.Load().seal)
}
