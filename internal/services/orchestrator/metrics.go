package orchestrator

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the orchestrator's Prometheus metrics.
type metrics struct {
	duration   prometheus.Histogram
	runs       *prometheus.CounterVec
	episodes   *prometheus.CounterVec
	lastReward *prometheus.GaugeVec
	meanReward *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer, o *Orchestrator) (*metrics, error) {
	m := &metrics{
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "orchestrator_training_duration_seconds",
			Help:    "Time to run one training run (all its episodes), completed or failed.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_training_runs_total",
			Help: "Training runs, by outcome (completed, failed).",
		}, []string{"outcome"}),
		episodes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_training_episodes_total",
			Help: "Episodes run, by agent.",
		}, []string{"agent"}),
		lastReward: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "orchestrator_agent_last_reward",
			Help: "Reward of the agent's last episode.",
		}, []string{"agent"}),
		meanReward: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "orchestrator_agent_mean_reward",
			Help: "Mean reward of the agent's last 100 episodes.",
		}, []string{"agent"}),
	}
	if reg == nil {
		return m, nil
	}
	agents := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "orchestrator_agents",
		Help: "Agents in the registry.",
	}, func() float64 { return float64(o.Len()) })
	for _, c := range []prometheus.Collector{m.duration, m.runs, m.episodes, m.lastReward, m.meanReward, agents} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	m.runs.WithLabelValues("completed")
	m.runs.WithLabelValues("failed")
	return m, nil
}

// observeAgent sets the reward gauges of an agent.
func (m *metrics) observeAgent(a *agent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.loadErr != nil || a.live.episodes == 0 {
		return
	}
	m.lastReward.WithLabelValues(a.id).Set(a.live.last)
	m.meanReward.WithLabelValues(a.id).Set(mean(a.live.recent))
}
