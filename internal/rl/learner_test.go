package rl

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func newLearner(t testing.TB, seed uint64) *Learner {
	t.Helper()
	l, err := NewLearner(&CartPole{}, DefaultHyperparameters(), seed)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func train(t testing.TB, l *Learner, n int) []float64 {
	t.Helper()
	r, err := l.Train(context.Background(), n, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// randomPolicyMean is the mean episode reward of uniformly random actions.
func randomPolicyMean(episodes int, seed uint64) float64 {
	rng := rand.New(rand.NewPCG(seed, seed))
	env := &CartPole{}
	total := 0.0
	for range episodes {
		env.Reset(rng)
		for {
			_, r, terminated, truncated := env.Step(rng.IntN(env.Actions()))
			total += r
			if terminated || truncated {
				break
			}
		}
	}
	return total / float64(episodes)
}

func TestSameSeedSameLearning(t *testing.T) {
	t.Parallel()
	a, b := newLearner(t, 42), newLearner(t, 42)
	ra, rb := train(t, a, 150), train(t, b, 150)
	if !slices.Equal(ra, rb) {
		t.Fatal("same seed, different rewards")
	}
	if !slices.Equal(a.Snapshot().Q, b.Snapshot().Q) {
		t.Fatal("same seed, different Q-tables")
	}
	c := newLearner(t, 43)
	if rc := train(t, c, 150); slices.Equal(ra, rc) {
		t.Error("different seeds gave identical rewards: the seed is not used")
	}
}

// A learner snapshotted and restored mid-way (a checkpoint and a restart)
// continues exactly as one that was never interrupted.
func TestSnapshotRestoreContinuesExactly(t *testing.T) {
	t.Parallel()
	whole := newLearner(t, 7)
	want := train(t, whole, 120)

	first := newLearner(t, 7)
	got := train(t, first, 70)
	b, err := json.Marshal(first.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var snap Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		t.Fatal(err)
	}
	resumed, err := Restore(snap)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, train(t, resumed, 50)...)
	if !slices.Equal(want, got) {
		t.Fatal("restored learner diverged from the uninterrupted one")
	}
	if !slices.Equal(whole.Snapshot().Q, resumed.Snapshot().Q) || resumed.Episodes() != 120 {
		t.Fatal("restored learner's Q-table or episode count differs")
	}
}

// Learning is real: after 200 episodes the agent balances the pole far
// longer than random actions do.
func TestLearningBeatsRandomPolicy(t *testing.T) {
	t.Parallel()
	random := randomPolicyMean(1000, 1)
	if random < 15 || random > 30 {
		t.Fatalf("random policy averages %.1f; CartPole's is about 22: the environment is wrong", random)
	}
	const margin = 3 // the trained agent must average at least 3× the random policy
	for seed := uint64(1); seed <= 5; seed++ {
		r := train(t, newLearner(t, seed), 200)
		last := mean(r[190:])
		t.Logf("seed %d: first 10 episodes %.1f, last 10 %.1f, random policy %.1f", seed, mean(r[:10]), last, random)
		if last < margin*random {
			t.Errorf("seed %d: last 10 episodes average %.1f, want ≥ %.0f (%d× the random policy's %.1f)", seed, last, margin*random, margin, random)
		}
	}
}

func TestHyperparametersValidate(t *testing.T) {
	t.Parallel()
	d := DefaultHyperparameters()
	tests := []struct {
		name  string
		edit  func(*Hyperparameters)
		field string
	}{
		{"defaults", func(*Hyperparameters) {}, ""},
		{"greedy", func(h *Hyperparameters) { h.Epsilon, h.EpsilonMin = 0, 0 }, ""},
		{"zero learning rate", func(h *Hyperparameters) { h.LearningRate = 0 }, "learning_rate"},
		{"learning rate above 1", func(h *Hyperparameters) { h.LearningRate = 1.5 }, "learning_rate"},
		{"negative discount", func(h *Hyperparameters) { h.Discount = -0.1 }, "discount"},
		{"NaN epsilon", func(h *Hyperparameters) { h.Epsilon = math.NaN() }, "epsilon"},
		{"zero decay", func(h *Hyperparameters) { h.EpsilonDecay = 0 }, "epsilon_decay"},
		{"floor above start", func(h *Hyperparameters) { h.Epsilon, h.EpsilonMin = 0.1, 0.2 }, "epsilon_min"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := d
			tt.edit(&h)
			err := h.Validate()
			var ie *InvalidError
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.field != "" && (!errors.As(err, &ie) || ie.Field != tt.field):
				t.Errorf("Validate() = %v, want an error on %s", err, tt.field)
			}
		})
	}
}

func TestSetHyperparameters(t *testing.T) {
	t.Parallel()
	l := newLearner(t, 1)
	train(t, l, 20)
	decayed := l.Exploration()
	if decayed >= 1 {
		t.Fatalf("epsilon did not decay: %v", decayed)
	}
	h := l.Hyperparameters()
	h.LearningRate = 0.1
	if err := l.SetHyperparameters(h); err != nil {
		t.Fatal(err)
	}
	if l.Exploration() != decayed {
		t.Errorf("changing the learning rate reset exploration to %v", l.Exploration())
	}
	h.Epsilon = 0.5
	if err := l.SetHyperparameters(h); err != nil {
		t.Fatal(err)
	}
	if l.Exploration() != 0.5 {
		t.Errorf("a new epsilon should reset exploration to 0.5, got %v", l.Exploration())
	}
	h.LearningRate = 2
	if err := l.SetHyperparameters(h); err == nil || l.Hyperparameters().LearningRate != 0.1 {
		t.Errorf("invalid hyperparameters were applied: %v", err)
	}
}

func TestRestoreRejectsBadSnapshots(t *testing.T) {
	t.Parallel()
	good := newLearner(t, 1).Snapshot()
	tests := []struct {
		name string
		edit func(*Snapshot)
		want error
	}{
		{"unknown environment", func(s *Snapshot) { s.Environment = "mountaincar" }, ErrUnknownEnvironment},
		{"wrong shape", func(s *Snapshot) { s.States, s.Q = 10, make([]float64, 20) }, ErrSnapshot},
		{"short table", func(s *Snapshot) { s.Q = s.Q[:3] }, ErrSnapshot},
		{"infinite value", func(s *Snapshot) { s.Q = slices.Clone(s.Q); s.Q[0] = math.Inf(1) }, ErrSnapshot},
		{"bad hyperparameters", func(s *Snapshot) { s.Hyperparameters.Discount = 2 }, ErrSnapshot},
		{"bad generator state", func(s *Snapshot) { s.RNG = []byte("x") }, ErrSnapshot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := good
			tt.edit(&s)
			if _, err := Restore(s); !errors.Is(err, tt.want) {
				t.Errorf("Restore() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestTrainStopsOnCancel(t *testing.T) {
	t.Parallel()
	l := newLearner(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	r, err := l.Train(ctx, 100, func(i int, _ float64) {
		if i == 4 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || len(r) != 5 || l.Episodes() != 5 {
		t.Errorf("Train after cancel: %d rewards, %d episodes, %v; want 5, 5, context.Canceled", len(r), l.Episodes(), err)
	}
}

func benchmarkTrain(b *testing.B, episodes int, pretrain int) {
	base := newLearner(b, 1)
	train(b, base, pretrain)
	snap := base.Snapshot()
	steps := 0.0
	for b.Loop() {
		l, err := Restore(snap)
		if err != nil {
			b.Fatal(err)
		}
		r := train(b, l, episodes)
		for _, x := range r {
			steps += x
		}
	}
	b.ReportMetric(steps/float64(b.N), "steps/op")
}

// BenchmarkTrainQuick is the runbook's quick training (single agent, 10
// episodes) for a new agent; BenchmarkTrainFull its full training (50
// episodes); BenchmarkTrainFullTrained 50 episodes of an agent that
// already balances the pole, the slowest case (every episode 500 steps).
func BenchmarkTrainQuick(b *testing.B)       { benchmarkTrain(b, 10, 0) }
func BenchmarkTrainFull(b *testing.B)        { benchmarkTrain(b, 50, 0) }
func BenchmarkTrainFullTrained(b *testing.B) { benchmarkTrain(b, 50, 300) }
