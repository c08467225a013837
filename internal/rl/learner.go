package rl

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Environment is an episodic task with discrete states and actions. An
// Environment is used by one goroutine at a time.
type Environment interface {
	// Name identifies the environment and its discretisation; a snapshot
	// only restores into an environment of the same name.
	Name() string
	// States and Actions are the sizes of the Q-table.
	States() int
	Actions() int
	// Reset starts an episode and returns its first state. All randomness
	// comes from rng.
	Reset(rng *rand.Rand) int
	// Step applies an action and returns the next state, the reward, and
	// whether the episode ended in a terminal state (no bootstrapping) or
	// was cut at its step limit.
	Step(action int) (state int, reward float64, terminated, truncated bool)
}

// NewEnvironment returns a fresh environment by name.
func NewEnvironment(name string) (Environment, error) {
	switch name {
	case CartPoleName, "":
		return &CartPole{}, nil
	}
	return nil, fmt.Errorf("%w: %q (known: %s)", ErrUnknownEnvironment, name, CartPoleName)
}

// ErrUnknownEnvironment is returned for an environment name this build
// does not know.
var ErrUnknownEnvironment = errors.New("unknown environment")

// Hyperparameters tune a [Learner]. See the package documentation for their
// meaning.
type Hyperparameters struct {
	LearningRate float64 `json:"learning_rate"`
	Discount     float64 `json:"discount"`
	Epsilon      float64 `json:"epsilon"`
	EpsilonDecay float64 `json:"epsilon_decay"`
	EpsilonMin   float64 `json:"epsilon_min"`
}

// DefaultHyperparameters are what a new agent starts with. Chosen by a
// sweep over 100 seeds: after 200 episodes the median agent balances the
// pole for the full 500 steps, and the worst one averages 85 over its last
// 10 episodes, four times a random policy's 22.
func DefaultHyperparameters() Hyperparameters {
	return Hyperparameters{LearningRate: 0.6, Discount: 0.999, Epsilon: 1, EpsilonDecay: 0.95, EpsilonMin: 0}
}

// InvalidError is returned by [Hyperparameters.Validate]; it names the
// field and the accepted range.
type InvalidError struct {
	Field string // JSON name
	Value float64
	Want  string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("%s %v is out of range: want %s", e.Field, e.Value, e.Want)
}

// Validate checks every value's range: learning_rate in (0, 1], discount in
// [0, 1], epsilon in [0, 1], epsilon_decay in (0, 1], and epsilon_min in
// [0, epsilon]. It returns the first problem as an [*InvalidError].
func (h Hyperparameters) Validate() error {
	checks := []struct {
		field     string
		v         float64
		lo, hi    float64
		openBelow bool
	}{
		{"learning_rate", h.LearningRate, 0, 1, true},
		{"discount", h.Discount, 0, 1, false},
		{"epsilon", h.Epsilon, 0, 1, false},
		{"epsilon_decay", h.EpsilonDecay, 0, 1, true},
		{"epsilon_min", h.EpsilonMin, 0, 1, false},
	}
	for _, c := range checks {
		bad := math.IsNaN(c.v) || c.v > c.hi || c.v < c.lo || (c.openBelow && c.v == c.lo)
		if bad {
			want := fmt.Sprintf("%g ≤ %s ≤ %g", c.lo, c.field, c.hi)
			if c.openBelow {
				want = fmt.Sprintf("%g < %s ≤ %g", c.lo, c.field, c.hi)
			}
			return &InvalidError{Field: c.field, Value: c.v, Want: want}
		}
	}
	if h.EpsilonMin > h.Epsilon {
		return &InvalidError{Field: "epsilon_min", Value: h.EpsilonMin, Want: fmt.Sprintf("epsilon_min ≤ epsilon (%g)", h.Epsilon)}
	}
	return nil
}

// Learner is one tabular Q-learning agent on its environment. It is not
// safe for concurrent use: the orchestrator gives each learner to one
// training run at a time.
type Learner struct {
	env      Environment
	q        []float64 // States × Actions, row-major by state
	hp       Hyperparameters
	epsilon  float64 // exploration rate now
	episodes int
	seed     uint64
	pcg      *rand.PCG
	rng      *rand.Rand
}

// NewLearner returns a learner with an all-zero Q-table whose randomness is
// seeded by seed. hp must be valid.
func NewLearner(env Environment, hp Hyperparameters, seed uint64) (*Learner, error) {
	if err := hp.Validate(); err != nil {
		return nil, err
	}
	pcg := rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
	return &Learner{
		env:     env,
		q:       make([]float64, env.States()*env.Actions()),
		hp:      hp,
		epsilon: hp.Epsilon,
		seed:    seed,
		pcg:     pcg,
		rng:     rand.New(pcg),
	}, nil
}

// Hyperparameters returns the learner's hyperparameters.
func (l *Learner) Hyperparameters() Hyperparameters { return l.hp }

// SetHyperparameters replaces the hyperparameters from the next episode
// on. A changed epsilon also resets the current exploration rate to it.
func (l *Learner) SetHyperparameters(hp Hyperparameters) error {
	if err := hp.Validate(); err != nil {
		return err
	}
	if hp.Epsilon != l.hp.Epsilon {
		l.epsilon = hp.Epsilon
	}
	l.epsilon = max(l.epsilon, hp.EpsilonMin)
	l.hp = hp
	return nil
}

// Exploration is the current ε.
func (l *Learner) Exploration() float64 { return l.epsilon }

// Episodes is how many episodes the learner has run in its life.
func (l *Learner) Episodes() int { return l.episodes }

// Seed is the seed the learner was created with.
func (l *Learner) Seed() uint64 { return l.seed }

// Environment names the learner's environment.
func (l *Learner) Environment() string { return l.env.Name() }

// RunEpisode plays one episode, learning as it goes, decays ε, and
// returns the episode's total reward.
func (l *Learner) RunEpisode() float64 {
	nA := l.env.Actions()
	s := l.env.Reset(l.rng)
	total := 0.0
	alpha, gamma := l.hp.LearningRate, l.hp.Discount
	for {
		a := l.act(s)
		next, r, terminated, truncated := l.env.Step(a)
		total += r
		target := r
		if !terminated {
			target += gamma * slices.Max(l.q[next*nA:(next+1)*nA])
		}
		i := s*nA + a
		l.q[i] += alpha * (target - l.q[i])
		if terminated || truncated {
			break
		}
		s = next
	}
	l.episodes++
	l.epsilon = max(l.hp.EpsilonMin, l.epsilon*l.hp.EpsilonDecay)
	return total
}

// act picks an action ε-greedily; ties between best actions are broken at
// random so that an untrained agent does not always push one way.
func (l *Learner) act(s int) int {
	nA := l.env.Actions()
	if l.epsilon > 0 && l.rng.Float64() < l.epsilon {
		return l.rng.IntN(nA)
	}
	row := l.q[s*nA : (s+1)*nA]
	best, ties := 0, 1
	for a := 1; a < nA; a++ {
		switch {
		case row[a] > row[best]:
			best, ties = a, 1
		case row[a] == row[best]:
			ties++
			if l.rng.IntN(ties) == 0 {
				best = a
			}
		}
	}
	return best
}

// Train runs n episodes and returns their rewards. It stops early, with
// ctx's error and the rewards of the episodes it finished, when ctx is
// cancelled; every finished episode has updated the Q-table. onEpisode, if
// not nil, is called after each episode.
func (l *Learner) Train(ctx context.Context, n int, onEpisode func(episode int, reward float64)) ([]float64, error) {
	rewards := make([]float64, 0, n)
	for i := range n {
		if err := ctx.Err(); err != nil {
			return rewards, err
		}
		r := l.RunEpisode()
		rewards = append(rewards, r)
		if onEpisode != nil {
			onEpisode(i, r)
		}
	}
	return rewards, nil
}

// Snapshot is everything needed to resume a learner exactly: what a
// checkpoint stores.
type Snapshot struct {
	Environment     string          `json:"environment"`
	States          int             `json:"states"`
	Actions         int             `json:"actions"`
	Seed            uint64          `json:"seed"`
	RNG             []byte          `json:"rng"` // PCG state, as math/rand/v2 marshals it
	Hyperparameters Hyperparameters `json:"hyperparameters"`
	Epsilon         float64         `json:"epsilon"`
	Episodes        int             `json:"episodes"`
	Q               []float64       `json:"q"`
}

// Snapshot returns a copy of the learner's state.
func (l *Learner) Snapshot() Snapshot {
	rng, _ := l.pcg.MarshalBinary() // PCG's MarshalBinary cannot fail
	return Snapshot{
		Environment:     l.env.Name(),
		States:          l.env.States(),
		Actions:         l.env.Actions(),
		Seed:            l.seed,
		RNG:             rng,
		Hyperparameters: l.hp,
		Epsilon:         l.epsilon,
		Episodes:        l.episodes,
		Q:               slices.Clone(l.q),
	}
}

// WithHyperparameters returns the snapshot of the learner as it would be
// after [Learner.SetHyperparameters](hp): a changed epsilon resets the
// exploration rate. hp must be valid.
func (s Snapshot) WithHyperparameters(hp Hyperparameters) Snapshot {
	if hp.Epsilon != s.Hyperparameters.Epsilon {
		s.Epsilon = hp.Epsilon
	}
	s.Epsilon = max(s.Epsilon, hp.EpsilonMin)
	s.Hyperparameters = hp
	return s
}

// ErrSnapshot is wrapped by [Restore] for a snapshot that does not fit.
var ErrSnapshot = errors.New("invalid snapshot")

// Restore rebuilds a learner from a snapshot.
func Restore(s Snapshot) (*Learner, error) {
	env, err := NewEnvironment(s.Environment)
	if err != nil {
		return nil, err
	}
	if s.States != env.States() || s.Actions != env.Actions() || len(s.Q) != s.States*s.Actions {
		return nil, fmt.Errorf("%w: Q-table is %d states × %d actions with %d values; %s has %d × %d",
			ErrSnapshot, s.States, s.Actions, len(s.Q), env.Name(), env.States(), env.Actions())
	}
	for i, v := range s.Q {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: Q-value %d is %v", ErrSnapshot, i, v)
		}
	}
	if s.Episodes < 0 || math.IsNaN(s.Epsilon) || s.Epsilon < 0 || s.Epsilon > 1 {
		return nil, fmt.Errorf("%w: episodes %d, epsilon %v", ErrSnapshot, s.Episodes, s.Epsilon)
	}
	l, err := NewLearner(env, s.Hyperparameters, s.Seed)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	if err := l.pcg.UnmarshalBinary(s.RNG); err != nil {
		return nil, fmt.Errorf("%w: random generator state: %w", ErrSnapshot, err)
	}
	copy(l.q, s.Q)
	l.epsilon, l.episodes = s.Epsilon, s.Episodes
	return l, nil
}
