// Package triage runs diagnostic checks against a T.A.R.S. installation:
// each check measures one thing (a daemon, Redis, PostgreSQL, a disk, a
// certificate, the logs) and returns a verdict with the runbook's cause and
// remedy as a hint. Checks run concurrently, each under its own timeout.
package triage

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Verdicts, from best to worst.
const (
	OK   = "ok"
	Warn = "warn"
	Fail = "fail"
)

// Result is the outcome of one check.
type Result struct {
	Check    string        `json:"check"`
	Status   string        `json:"status"`
	Value    string        `json:"value"`
	Hint     string        `json:"hint,omitempty"`
	Duration time.Duration `json:"-"`
	Millis   float64       `json:"duration_ms"`
}

// Check is one named diagnostic. Run must honour ctx; if it does not, [Run]
// still reports a timeout once ctx expires.
type Check struct {
	Name string
	Run  func(ctx context.Context) Result
}

// Run runs checks concurrently, each with its own timeout, and returns their
// results in the order of checks. A check that outlives its timeout is
// reported as failed; its goroutine is abandoned.
func Run(ctx context.Context, checks []Check, timeout time.Duration) []Result {
	out := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = runOne(ctx, c, timeout)
		}()
	}
	wg.Wait()
	return out
}

func runOne(ctx context.Context, c Check, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	done := make(chan Result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- Result{Status: Fail, Value: fmt.Sprintf("check panicked: %v", r)}
			}
		}()
		done <- c.Run(ctx)
	}()
	var r Result
	select {
	case r = <-done:
	case <-ctx.Done():
		r = Result{Status: Fail, Value: fmt.Sprintf("no answer within %s", timeout),
			Hint: "the dependency accepts connections but does not answer: check its load and logs"}
	}
	r.Check = c.Name
	r.Duration = time.Since(start)
	r.Millis = float64(r.Duration.Microseconds()) / 1000
	return r
}

// Worst returns the worst verdict among results.
func Worst(results []Result) string {
	worst := OK
	for _, r := range results {
		if rank(r.Status) > rank(worst) {
			worst = r.Status
		}
	}
	return worst
}

func rank(s string) int { return slices.Index([]string{OK, Warn, Fail}, s) }

func ok(format string, args ...any) Result {
	return Result{Status: OK, Value: fmt.Sprintf(format, args...)}
}

func warn(hint, format string, args ...any) Result {
	return Result{Status: Warn, Value: fmt.Sprintf(format, args...), Hint: hint}
}

func fail(hint, format string, args ...any) Result {
	return Result{Status: Fail, Value: fmt.Sprintf(format, args...), Hint: hint}
}
