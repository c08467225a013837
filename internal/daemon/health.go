package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// Check statuses as /health reports them.
const (
	StatusOK       = "ok"
	StatusError    = "error"
	StatusEmbedded = "embedded" // an in-process store stands in for the real one
)

// Check is one dependency /health looks at.
type Check struct {
	Name string
	// Run returns StatusOK or StatusEmbedded, or an error whose message is
	// shown in /health's errors (so it must not hold secrets).
	Run func(ctx context.Context) (string, error)
}

// HealthReport is the body of /health, exactly as the runbook shows it.
type HealthReport struct {
	Status    string            `json:"status"`
	Version   string            `json:"version"`
	Timestamp string            `json:"timestamp"`
	Checks    map[string]string `json:"checks"`
	Errors    []string          `json:"errors,omitempty"`

	body []byte // the report as JSON, rendered once per round of checks
}

// Healthy reports whether every check passed.
func (r HealthReport) Healthy() bool { return r.Status == "healthy" }

// health runs checks concurrently and caches the report for ttl. An
// expired report is still served while one request refreshes it.
type health struct {
	checks  []Check
	version string
	timeout time.Duration
	ttl     time.Duration
	now     func() time.Time

	mu         sync.Mutex
	cached     HealthReport
	expires    time.Time
	refreshing bool // one request is running the checks; others get cached
}

func (h *health) report(ctx context.Context) HealthReport {
	h.mu.Lock()
	now := h.now()
	if h.expires.IsZero() {
		// The first report: concurrent probes wait for this one round.
		rep := h.run(ctx)
		h.cached, h.expires = rep, h.now().Add(h.ttl)
		h.mu.Unlock()
		return rep
	}
	if now.Before(h.expires) || h.refreshing {
		// Fresh, or being refreshed by another request: probes never queue
		// behind a round of checks.
		rep := h.cached
		h.mu.Unlock()
		return rep
	}
	h.refreshing = true
	h.mu.Unlock()
	rep := h.run(ctx)
	h.mu.Lock()
	h.cached, h.expires, h.refreshing = rep, h.now().Add(h.ttl), false
	h.mu.Unlock()
	return rep
}

// run runs every check concurrently, each with its own timeout.
func (h *health) run(ctx context.Context) HealthReport {
	rep := HealthReport{Status: "healthy", Version: h.version, Checks: make(map[string]string, len(h.checks))}
	type result struct {
		status string
		err    error
	}
	results := make([]result, len(h.checks))
	var wg sync.WaitGroup
	for i, c := range h.checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, h.timeout)
			defer cancel()
			st, err := c.Run(cctx)
			if err == nil && cctx.Err() != nil {
				err = cctx.Err()
			}
			results[i] = result{st, err}
		})
	}
	wg.Wait()
	for i, c := range h.checks {
		r := results[i]
		if r.err != nil {
			rep.Status = "unhealthy"
			rep.Checks[c.Name] = StatusError
			msg := r.err.Error()
			if errors.Is(r.err, context.DeadlineExceeded) {
				msg = fmt.Sprintf("%s check timed out after %s", c.Name, h.timeout)
			}
			rep.Errors = append(rep.Errors, msg)
			continue
		}
		rep.Checks[c.Name] = r.status
	}
	rep.Timestamp = h.now().UTC().Format(time.RFC3339)
	b, _ := json.Marshal(rep) // plain strings and maps: cannot fail
	rep.body = append(b, '\n')
	return rep
}

func (h *health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rep := h.report(r.Context())
	code := http.StatusOK
	if !rep.Healthy() {
		code = http.StatusServiceUnavailable
	}
	// Probes come often: send the bytes rendered with the report.
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(rep.body)
}

// DiskSpaceCheck fails when the filesystem holding dir has less than
// minFree bytes or less than 2% free.
func DiskSpaceCheck(dir string, minFree uint64) Check {
	return Check{Name: "disk_space", Run: func(context.Context) (string, error) {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			return "", fmt.Errorf("disk space: statfs %s: %w", dir, err)
		}
		avail := uint64(st.Bavail) * uint64(st.Bsize)
		total := uint64(st.Blocks) * uint64(st.Bsize)
		if avail < minFree || (total > 0 && avail*50 < total) {
			return "", fmt.Errorf("disk space low on %s: %d MiB free of %d MiB", dir, avail>>20, total>>20)
		}
		return StatusOK, nil
	}}
}
