package hypersync

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tars-ops/tarsctl/pkg/client"
)

type metrics struct {
	latency  prometheus.Histogram
	syncs    *prometheus.CounterVec
	attempts *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, s *Syncer) (*metrics, error) {
	m := &metrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hypersync_apply_latency_seconds",
			Help:    "Time from accepting a sync to the orchestrator confirming it, retries included.",
			Buckets: []float64{.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hypersync_syncs_total",
			Help: "Syncs settled, by outcome (applied, failed).",
		}, []string{"outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hypersync_apply_attempts_total",
			Help: "Calls to the orchestrator, by result (ok, retry, failed).",
		}, []string{"result"}),
	}
	if reg == nil {
		return m, nil
	}
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hypersync_pending_syncs",
		Help: "Syncs accepted and not yet applied.",
	}, func() float64 { return float64(s.Pending()) })
	for _, c := range []prometheus.Collector{m.latency, m.syncs, m.attempts, pending} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	for _, o := range []string{client.SyncApplied, client.SyncFailed} {
		m.syncs.WithLabelValues(o)
	}
	for _, r := range []string{"ok", "retry", "failed"} {
		m.attempts.WithLabelValues(r)
	}
	return m, nil
}
