package hypersync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tars-ops/tarsctl/internal/agentspec"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// Defaults for [Options] fields left zero.
const (
	DefaultRetain         = 1000
	DefaultMaxPending     = 10000
	DefaultMinBackoff     = 50 * time.Millisecond
	DefaultMaxBackoff     = 2 * time.Second
	DefaultAttemptTimeout = 5 * time.Second
)

// Errors [Syncer.Submit] wraps.
var (
	// ErrInvalid is a sync request that can never be applied (400).
	ErrInvalid = errors.New("invalid sync")
	// ErrFull means too many syncs are pending (503): the orchestrator has
	// been unreachable for long.
	ErrFull = errors.New("too many pending syncs")
)

// Applier applies hyperparameters to an agent: the orchestrator's API.
// *client.Client implements it. Its errors say whether to retry: an
// *client.APIError that is not Temporary (and not 401, which a secret
// rotation in progress can cause) fails the sync for good; anything else
// is retried.
type Applier interface {
	SetHyperparameters(ctx context.Context, agentID string, u client.HyperparameterUpdate) (client.Agent, error)
}

var _ Applier = (*client.Client)(nil)

// Options configure [New].
type Options struct {
	// Journal is the file syncs are recorded in; created if missing.
	Journal      string
	Orchestrator Applier
	Logger       *slog.Logger
	// Registry receives the metrics; nil registers nothing.
	Registry prometheus.Registerer
	// Retain is how many applied or failed syncs are kept (and listed);
	// pending ones are always kept.
	Retain int
	// MaxPending refuses new syncs while this many are pending.
	MaxPending int
	// MinBackoff and MaxBackoff bound the wait between attempts at an
	// agent's sync while the orchestrator cannot be reached; it doubles
	// from the one to the other.
	MinBackoff, MaxBackoff time.Duration
	// AttemptTimeout bounds one call to the orchestrator.
	AttemptTimeout time.Duration
}

// Syncer records hyperparameter syncs durably and applies them to the
// orchestrator, in the order they were accepted for each agent. It is safe
// for concurrent use; [Syncer.Run] is its one applier.
type Syncer struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	wake    chan struct{}

	mu         sync.Mutex
	j          *journal
	journalErr error    // the last journal write's error, for /health
	order      []*entry // acceptance order, oldest first
	byID       map[string]*entry
	backoff    map[string]*backoff // by agent, while its syncs fail
	pending    int
}

type entry struct {
	s        client.Sync
	accepted time.Time     // with a monotonic reading when accepted by this process
	done     chan struct{} // closed when applied or failed
}

type backoff struct {
	delay time.Duration
	next  time.Time
}

// New opens the journal and returns a syncer holding what it recorded;
// syncs still pending are applied once [Syncer.Run] starts.
func New(opts Options) (*Syncer, error) {
	if opts.Journal == "" || opts.Orchestrator == nil {
		return nil, errors.New("hypersync: Options.Journal and Options.Orchestrator are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Retain = cmp(opts.Retain, DefaultRetain)
	opts.MaxPending = cmp(opts.MaxPending, DefaultMaxPending)
	opts.MinBackoff = cmp(opts.MinBackoff, DefaultMinBackoff)
	opts.MaxBackoff = max(cmp(opts.MaxBackoff, DefaultMaxBackoff), opts.MinBackoff)
	opts.AttemptTimeout = cmp(opts.AttemptTimeout, DefaultAttemptTimeout)
	j, syncs, skipped, err := openJournal(opts.Journal)
	if err != nil {
		return nil, err
	}
	for _, msg := range skipped {
		opts.Logger.Warn("Journal "+opts.Journal+": "+msg, "journal", opts.Journal)
	}
	s := &Syncer{
		opts: opts, log: opts.Logger, wake: make(chan struct{}, 1),
		j: j, byID: map[string]*entry{}, backoff: map[string]*backoff{},
	}
	for _, sy := range syncs {
		e := &entry{s: sy, accepted: sy.AcceptedAt, done: make(chan struct{})}
		if sy.Status == client.SyncPending {
			s.pending++
		} else {
			close(e.done)
		}
		s.order = append(s.order, e)
		s.byID[sy.ID] = e
	}
	s.trimLocked()
	m, err := newMetrics(opts.Registry, s)
	if err != nil {
		j.close()
		return nil, err
	}
	s.metrics = m
	if s.pending > 0 {
		s.log.Info(fmt.Sprintf("Journal holds %d pending sync(s); applying them", s.pending), "journal", opts.Journal)
	}
	return s, nil
}

func cmp[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Close closes the journal. Call it after Run has returned.
func (s *Syncer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.j.close()
}

// Submit validates a sync, records it durably and queues it. It returns the
// recorded sync and a channel closed once it is applied or has failed.
func (s *Syncer) Submit(req client.SyncRequest) (client.Sync, <-chan struct{}, error) {
	if err := agentspec.ValidateID(req.AgentID); err != nil {
		return client.Sync{}, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := agentspec.ValidateUpdate(req.Hyperparameters); err != nil {
		return client.Sync{}, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if len(req.Source) > 64 {
		return client.Sync{}, nil, fmt.Errorf("%w: source is longer than 64 characters", ErrInvalid)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending >= s.opts.MaxPending {
		return client.Sync{}, nil, fmt.Errorf("%w: %d syncs are waiting for the orchestrator", ErrFull, s.pending)
	}
	e := &entry{
		s: client.Sync{
			ID: s.newIDLocked(), AgentID: req.AgentID, Hyperparameters: req.Hyperparameters, Source: req.Source,
			Status: client.SyncPending, AcceptedAt: now.UTC(),
		},
		accepted: now,
		done:     make(chan struct{}),
	}
	// Durable before it is acknowledged: a restart right after still
	// applies it.
	if err := s.putLocked(e.s); err != nil {
		return client.Sync{}, nil, err
	}
	s.order = append(s.order, e)
	s.byID[e.s.ID] = e
	s.pending++
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return e.s, e.done, nil
}

func (s *Syncer) newIDLocked() string {
	for {
		var b [6]byte
		_, _ = rand.Read(b[:])
		id := "sync-" + hex.EncodeToString(b[:])
		if _, taken := s.byID[id]; !taken {
			return id
		}
	}
}

// putLocked journals a sync's state and remembers a failure for /health.
func (s *Syncer) putLocked(sy client.Sync) error {
	err := s.j.put(sy)
	s.journalErr = err
	if err != nil {
		s.log.Error("Journal write failed", "error", err, "sync_id", sy.ID)
		return err
	}
	// Compact when the file holds far more records than syncs.
	if s.j.lines > 2*(s.opts.Retain+s.pending)+100 {
		if err := s.j.compact(s.syncsLocked()); err != nil {
			s.log.Error("Journal compaction failed", "error", err)
		}
	}
	return nil
}

func (s *Syncer) syncsLocked() []client.Sync {
	out := make([]client.Sync, len(s.order))
	for i, e := range s.order {
		out[i] = e.s
	}
	return out
}

// trimLocked forgets the oldest settled syncs beyond Retain.
func (s *Syncer) trimLocked() {
	settled := len(s.order) - s.pending
	if settled <= s.opts.Retain {
		return
	}
	drop := settled - s.opts.Retain
	kept := s.order[:0]
	for _, e := range s.order {
		if drop > 0 && e.s.Status != client.SyncPending {
			delete(s.byID, e.s.ID)
			drop--
			continue
		}
		kept = append(kept, e)
	}
	clear(s.order[len(kept):])
	s.order = kept
}

// JournalError is the last journal write's error, nil when it succeeded.
func (s *Syncer) JournalError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.journalErr
}

// Get returns a sync by id.
func (s *Syncer) Get(id string) (client.Sync, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[id]
	if !ok {
		return client.Sync{}, false
	}
	return e.s, true
}

// Filter selects syncs for [Syncer.List]; zero fields select all.
type Filter struct {
	AgentID string
	Status  string
	Limit   int
}

// List returns the syncs that match f, newest first.
func (s *Syncer) List(f Filter) client.SyncList {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := client.SyncList{Syncs: []client.Sync{}, Pending: s.pending}
	for i := len(s.order) - 1; i >= 0; i-- {
		sy := s.order[i].s
		if (f.AgentID != "" && sy.AgentID != f.AgentID) || (f.Status != "" && sy.Status != f.Status) {
			continue
		}
		if f.Limit > 0 && len(out.Syncs) >= f.Limit {
			break
		}
		out.Syncs = append(out.Syncs, sy)
	}
	out.Count = len(out.Syncs)
	return out
}

// Pending is the number of syncs not yet applied.
func (s *Syncer) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

// Run applies pending syncs until ctx is cancelled: for each agent in the
// order they were accepted, one at a time, retrying with backoff while the
// orchestrator cannot be reached. An attempt cut short by ctx leaves its
// sync pending for the next start.
func (s *Syncer) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if ctx.Err() != nil {
			return nil
		}
		e, wait := s.next(time.Now())
		if e != nil {
			s.attempt(ctx, e)
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// next picks the oldest pending sync of an agent that is not backing off.
// Only an agent's oldest pending sync is eligible, so its syncs apply in
// order. With none eligible it returns how long to wait.
func (s *Syncer) next(now time.Time) (*entry, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wait := time.Duration(math.MaxInt64)
	seen := map[string]bool{}
	for _, e := range s.order {
		if e.s.Status != client.SyncPending || seen[e.s.AgentID] {
			continue
		}
		seen[e.s.AgentID] = true
		b := s.backoff[e.s.AgentID]
		if b == nil || !now.Before(b.next) {
			return e, 0
		}
		wait = min(wait, b.next.Sub(now))
	}
	return nil, wait
}

// permanent reports whether an error from the orchestrator means the sync
// can never apply.
func permanent(err error) bool {
	var apiErr *client.APIError
	return errors.As(err, &apiErr) && !apiErr.Temporary() && apiErr.StatusCode != 401
}

func (s *Syncer) attempt(ctx context.Context, e *entry) {
	actx, cancel := context.WithTimeout(ctx, s.opts.AttemptTimeout)
	s.mu.Lock()
	agentID, update := e.s.AgentID, e.s.Hyperparameters
	s.mu.Unlock()
	_, err := s.opts.Orchestrator.SetHyperparameters(actx, agentID, update)
	cancel()
	now := time.Now()

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil && ctx.Err() != nil {
		return // shutting down: still pending, applied after the restart
	}
	e.s.Attempts++
	switch {
	case err == nil:
		latency := now.Sub(e.accepted)
		e.s.Status, e.s.AppliedAt, e.s.Error = client.SyncApplied, now.UTC(), ""
		e.s.LatencyMS = float64(latency.Microseconds()) / 1000
		s.settleLocked(e)
		delete(s.backoff, agentID)
		s.metrics.latency.Observe(latency.Seconds())
		s.metrics.syncs.WithLabelValues(client.SyncApplied).Inc()
		s.metrics.attempts.WithLabelValues("ok").Inc()
		s.log.Info(fmt.Sprintf("HyperSync applied agent=%s latency=%dms", agentID, latency.Milliseconds()),
			"sync_id", e.s.ID, "latency_ms", e.s.LatencyMS, "attempts", e.s.Attempts)
	case permanent(err):
		e.s.Status, e.s.FailedAt, e.s.Error = client.SyncFailed, now.UTC(), err.Error()
		s.settleLocked(e)
		s.metrics.syncs.WithLabelValues(client.SyncFailed).Inc()
		s.metrics.attempts.WithLabelValues("failed").Inc()
		s.log.Warn(fmt.Sprintf("HyperSync failed agent=%s error=%q", agentID, err.Error()), "sync_id", e.s.ID, "attempts", e.s.Attempts)
	default:
		e.s.Error = err.Error()
		b := s.backoff[agentID]
		if b == nil {
			b = &backoff{}
			s.backoff[agentID] = b
		}
		b.delay = min(max(2*b.delay, s.opts.MinBackoff), s.opts.MaxBackoff)
		// ±20% jitter, so that many agents' retries do not come in step.
		b.next = now.Add(time.Duration(float64(b.delay) * (0.8 + 0.4*mrand.Float64())))
		s.metrics.attempts.WithLabelValues("retry").Inc()
		level := slog.LevelDebug
		if e.s.Attempts == 1 || e.s.Attempts%20 == 0 {
			level = slog.LevelWarn
		}
		s.log.Log(ctx, level, fmt.Sprintf("HyperSync retrying agent=%s: orchestrator not reachable or busy", agentID),
			"sync_id", e.s.ID, "attempts", e.s.Attempts, "retry_in", b.next.Sub(now).Round(time.Millisecond).String(), "error", err)
	}
}

// settleLocked records a sync's final state and wakes its waiters.
func (s *Syncer) settleLocked(e *entry) {
	s.pending--
	// A failed journal write is logged and shows in /health; the sync is
	// settled in memory all the same (re-applying it after a restart would
	// be harmless but out of order).
	_ = s.putLocked(e.s)
	close(e.done)
	s.trimLocked()
}
