package loadtest

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/ui"
	lt "github.com/tars-ops/tarsctl/pkg/loadtest"
)

// progressMode is how live progress is shown.
type progressMode int

const (
	progressNone  progressMode = iota // --quiet
	progressTTY                       // one line on stderr, redrawn
	progressLines                     // a line on stderr every --progress-interval (CI logs)
	progressJSON                      // a {"type":"status"} line on stdout every --progress-interval
)

// ttyRefresh is how often the live line on a terminal is redrawn.
const ttyRefresh = 250 * time.Millisecond

// progressPrinter shows elapsed time, rate, p95 so far and errors while a
// run goes on.
type progressPrinter struct {
	mode      progressMode
	w         io.Writer
	interval  time.Duration
	now       func() time.Time
	newTicker func(time.Duration) (<-chan time.Time, func())

	mu      sync.Mutex
	started time.Time
	drawn   int // width of the line on the terminal
}

func newProgress(opts *RunOptions) *progressPrinter {
	p := &progressPrinter{
		w:         opts.IO.ErrOut,
		interval:  opts.ProgressInterval,
		now:       opts.Now,
		newTicker: opts.testOnlyTicker,
	}
	switch {
	case opts.Quiet:
		p.mode = progressNone
	case opts.Output == cmdutil.OutputJSON:
		p.mode, p.w = progressJSON, opts.IO.Out
	case opts.IO.ProgressEnabled():
		p.mode, p.interval = progressTTY, ttyRefresh
	default:
		p.mode = progressLines
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.newTicker == nil {
		p.newTicker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	return p
}

// start shows progress from m until the returned stop is called; stop
// returns once the printer has finished writing.
func (p *progressPrinter) start(m *lt.Metrics) (stop func()) {
	if p.mode == progressNone {
		return func() {}
	}
	p.started = p.now()
	ticks, stopTicker := p.newTicker(p.interval)
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-ticks:
				p.update(m.Snapshot(), p.now())
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		stopTicker()
		p.finish()
	}
}

// update prints one progress report.
func (p *progressPrinter) update(s lt.Snapshot, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	elapsed := now.Sub(p.started)
	rps, errRate := 0.0, 0.0
	if secs := elapsed.Seconds(); secs > 0 {
		rps = float64(s.Requests) / secs
	}
	if s.Requests > 0 {
		errRate = float64(s.Failed) / float64(s.Requests)
	}
	p95 := float64(s.P95) / float64(time.Millisecond)
	switch p.mode {
	case progressJSON:
		_ = ui.WriteJSONLine(p.w, map[string]any{
			"type":            "status",
			"elapsed_seconds": elapsed.Round(time.Millisecond).Seconds(),
			"requests":        s.Requests,
			"failed":          s.Failed,
			"error_rate":      errRate,
			"rps":             float64(int64(rps*10+0.5)) / 10,
			"p95_ms":          float64(s.P95.Microseconds()) / 1000,
		})
	case progressLines:
		fmt.Fprintf(p.w, "progress: %s elapsed, %d requests, %s, p95 %s, %d errors (%s)\n",
			elapsed.Round(time.Second), s.Requests, lt.FormatRate(rps), lt.FormatMS(p95), s.Failed, lt.FormatPercent(errRate))
	case progressTTY:
		line := fmt.Sprintf("%s elapsed  %s  p95 %s  %d requests  %d errors (%s)",
			elapsed.Round(time.Second), lt.FormatRate(rps), lt.FormatMS(p95), s.Requests, s.Failed, lt.FormatPercent(errRate))
		fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", max(0, p.drawn-len(line))))
		p.drawn = len(line)
	}
}

// finish clears the live line, which the summary replaces.
func (p *progressPrinter) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == progressTTY && p.drawn > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.drawn))
		p.drawn = 0
	}
}
