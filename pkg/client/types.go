package client

import "time"

// ErrorBody is the JSON body of every error answer of the daemons:
//
//	{"error": "Bad Request", "message": "request body: unknown field \"epochs\""}
//
// Error is the HTTP status text of the answer's code; Message says what
// went wrong, in words meant for a person. A 429 also carries RetryAfter,
// the seconds of its Retry-After header. Fields may be added; clients
// ignore those they do not know.
type ErrorBody struct {
	Error      string `json:"error"`
	Message    string `json:"message,omitempty"`
	RetryAfter int    `json:"retry_after,omitempty"`
}

// Hyperparameters are an agent's learning settings. learning_rate is the
// Q-learning step size α in (0, 1]; discount is γ in [0, 1]; epsilon is
// the exploration rate ε an agent starts with (and is reset to when it
// changes), multiplied by epsilon_decay after every episode but never
// below epsilon_min.
type Hyperparameters struct {
	LearningRate float64 `json:"learning_rate"`
	Discount     float64 `json:"discount"`
	Epsilon      float64 `json:"epsilon"`
	EpsilonDecay float64 `json:"epsilon_decay"`
	EpsilonMin   float64 `json:"epsilon_min"`
}

// HyperparameterUpdate changes some hyperparameters; nil fields are left
// as they are.
type HyperparameterUpdate struct {
	LearningRate *float64 `json:"learning_rate,omitempty"`
	Discount     *float64 `json:"discount,omitempty"`
	Epsilon      *float64 `json:"epsilon,omitempty"`
	EpsilonDecay *float64 `json:"epsilon_decay,omitempty"`
	EpsilonMin   *float64 `json:"epsilon_min,omitempty"`
}

// IsEmpty reports whether u changes nothing.
func (u HyperparameterUpdate) IsEmpty() bool {
	return u.LearningRate == nil && u.Discount == nil && u.Epsilon == nil && u.EpsilonDecay == nil && u.EpsilonMin == nil
}

// Apply returns h with u's fields set.
func (u HyperparameterUpdate) Apply(h Hyperparameters) Hyperparameters {
	set := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	set(&h.LearningRate, u.LearningRate)
	set(&h.Discount, u.Discount)
	set(&h.Epsilon, u.Epsilon)
	set(&h.EpsilonDecay, u.EpsilonDecay)
	set(&h.EpsilonMin, u.EpsilonMin)
	return h
}

// Update returns the update that sets every field to h's value.
func (h Hyperparameters) Update() HyperparameterUpdate {
	return HyperparameterUpdate{
		LearningRate: &h.LearningRate, Discount: &h.Discount, Epsilon: &h.Epsilon,
		EpsilonDecay: &h.EpsilonDecay, EpsilonMin: &h.EpsilonMin,
	}
}

// Agent statuses.
const (
	AgentIdle     = "idle"     // ready to train
	AgentQueued   = "queued"   // a training run waits for a free worker
	AgentTraining = "training" // a training run is under way
	AgentError    = "error"    // its checkpoint could not be loaded; see Agent.Error
)

// Agent is one learner as the orchestration agent reports it. The fields
// id, name, type, status, episodes, reward and updated_at are also those of
// dashboard-api's agents.
type Agent struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Type        string `json:"type"`        // the learning method: "q-learning"
	Environment string `json:"environment"` // the task: "cartpole-v1"
	Status      string `json:"status"`      // AgentIdle, AgentQueued, AgentTraining or AgentError
	// Episodes is how many episodes the agent has run in its life.
	Episodes int `json:"episodes"`
	// Reward is the last episode's reward (the same as LastReward).
	Reward     float64 `json:"reward"`
	LastReward float64 `json:"last_reward"`
	// MeanReward is the mean reward of the last 100 episodes.
	MeanReward float64 `json:"mean_reward"`
	// BestReward is the highest reward of any episode.
	BestReward      float64         `json:"best_reward"`
	Exploration     float64         `json:"exploration"` // the current ε
	Hyperparameters Hyperparameters `json:"hyperparameters"`
	Seed            uint64          `json:"seed"`
	TrainingRuns    int             `json:"training_runs"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	LastTrainedAt   time.Time       `json:"last_trained_at,omitzero"`
	Error           string          `json:"error,omitempty"`
}

// AgentList is the body of GET /api/agents.
type AgentList struct {
	Agents []Agent `json:"agents"`
	Count  int     `json:"count"`
}

// Training limits.
const (
	MinEpisodes = 1
	MaxEpisodes = 10000
)

// TrainRequest is the body of POST /api/agents/{id}/train. Training an
// agent that does not exist creates it, with Seed (random when nil) and
// the default hyperparameters changed by Hyperparameters.
type TrainRequest struct {
	Episodes int `json:"episodes"` // MinEpisodes to MaxEpisodes
	// Seed is only for a new agent; giving a different seed for an
	// existing one is a conflict.
	Seed *uint64 `json:"seed,omitempty"`
	// Hyperparameters, when set, are applied before the run.
	Hyperparameters *HyperparameterUpdate `json:"hyperparameters,omitempty"`
}

// TrainResult is the answer to a training run.
type TrainResult struct {
	AgentID    string  `json:"agent_id"`
	Created    bool    `json:"created"`  // the run created the agent
	Episodes   int     `json:"episodes"` // episodes in this run
	MeanReward float64 `json:"mean_reward"`
	LastReward float64 `json:"last_reward"`
	BestReward float64 `json:"best_reward"`
	DurationMS float64 `json:"duration_ms"`
	Agent      Agent   `json:"agent"` // the agent after the run
}

// Sync statuses.
const (
	SyncPending = "pending" // accepted, not yet applied (the orchestrator may be down)
	SyncApplied = "applied"
	SyncFailed  = "failed" // refused by the orchestrator; see Sync.Error
)

// SyncRequest is the body of POST /api/sync: hyperparameters accepted for
// an agent, to be applied to it.
type SyncRequest struct {
	AgentID         string               `json:"agent_id"`
	Hyperparameters HyperparameterUpdate `json:"hyperparameters"`
	// Source says who accepted them, for the record (e.g. "automl").
	Source string `json:"source,omitempty"`
}

// Sync is one hyperparameter sync as HyperSync records it.
type Sync struct {
	ID              string               `json:"id"`
	AgentID         string               `json:"agent_id"`
	Hyperparameters HyperparameterUpdate `json:"hyperparameters"`
	Source          string               `json:"source,omitempty"`
	Status          string               `json:"status"` // SyncPending, SyncApplied or SyncFailed
	Attempts        int                  `json:"attempts"`
	AcceptedAt      time.Time            `json:"accepted_at"`
	AppliedAt       time.Time            `json:"applied_at,omitzero"`
	// LatencyMS is the time from acceptance to the orchestrator's
	// confirmation, retries included.
	LatencyMS float64   `json:"latency_ms,omitempty"`
	FailedAt  time.Time `json:"failed_at,omitzero"`
	Error     string    `json:"error,omitempty"` // why it failed, or the last retry's error while pending
}

// SyncList is the body of GET /api/sync.
type SyncList struct {
	Syncs   []Sync `json:"syncs"` // newest first
	Count   int    `json:"count"`
	Pending int    `json:"pending"`
}
