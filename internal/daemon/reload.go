package daemon

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// reloadMetrics count SIGHUP reloads, so that a tool that sent the signal
// can see it was handled.
type reloadMetrics struct {
	total       *prometheus.CounterVec
	lastSuccess prometheus.Gauge
}

func newReloadMetrics(reg prometheus.Registerer) *reloadMetrics {
	m := &reloadMetrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tars_reloads_total",
			Help: "Reloads on SIGHUP, by result (success, failure).",
		}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tars_reload_last_success_timestamp_seconds",
			Help: "Unix time of the last successful reload (0: none yet).",
		}),
	}
	m.total.WithLabelValues("success")
	m.total.WithLabelValues("failure")
	reg.MustRegister(m.total, m.lastSuccess)
	return m
}

// handleReload calls reload on each SIGHUP until the returned stop is
// called. Signals that arrive while a reload runs are merged into one
// more reload after it.
func handleReload(ctx context.Context, reload func(context.Context) error, log *slog.Logger, reg prometheus.Registerer) (stop func()) {
	m := newReloadMetrics(reg)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
			}
			if reload == nil {
				log.Info("SIGHUP received: this daemon has nothing to reload; ignored")
				continue
			}
			log.Info("SIGHUP received: reloading")
			if err := reload(ctx); err != nil {
				m.total.WithLabelValues("failure").Inc()
				log.Error("Reload failed; still running with the previous configuration", "error", err)
				continue
			}
			m.total.WithLabelValues("success").Inc()
			m.lastSuccess.Set(float64(time.Now().UnixNano()) / 1e9)
			log.Info("Reload complete")
		}
	})
	return func() {
		signal.Stop(sig)
		cancel()
		wg.Wait()
	}
}
