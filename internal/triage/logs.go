package triage

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Pattern is one of the runbook's log patterns.
type Pattern struct {
	Name  string `json:"name"`
	Match string `json:"match"`
	// Error patterns raise a warning at Threshold occurrences.
	Error     bool `json:"error"`
	Threshold int  `json:"threshold,omitempty"`
	Hint      string
}

// Patterns are the runbook's error and success patterns.
var Patterns = []Pattern{
	{Name: "401", Match: " 401 Unauthorized", Error: true, Threshold: 20,
		Hint: `burst of 401 Unauthorized (runbook "401 Unauthorized"): expired or invalid tokens; decode one with tarsctl triage jwt decode, clients must refresh or log in again; a burst from one IP may be an attack (security playbook)`},
	{Name: "rate_limited", Match: "rate_limit_exceeded", Error: true, Threshold: 20,
		Hint: "requests are being rate limited: see tarsctl triage ratelimit show"},
	{Name: "db_errors", Match: "database", Error: true, Threshold: 1,
		Hint: "database connection errors: check the postgres check and database.url"},
	{Name: "redis_errors", Match: "redis", Error: true, Threshold: 1,
		Hint: `Redis connection errors ("Connection refused" in the runbook): start Redis (redis-server --port 6379 &)`},
	{Name: "training_failed", Match: "Training failed", Error: true, Threshold: 1,
		Hint: "training runs failed: see the orchestrator log for the agent and its error"},
	{Name: "jwt_issued", Match: "JWT issued"},
	{Name: "training_completed", Match: "Training completed"},
	{Name: "hypersync_applied", Match: "HyperSync applied"},
}

// LogCounts are the pattern counts over the window.
type LogCounts struct {
	Lines  int            `json:"lines"`
	Counts map[string]int `json:"counts"`
}

// CountLogs counts Patterns in the *.log files of dir whose timestamp is
// at or after since. Error patterns count only on lines of level ERROR or
// WARN (or JSON level error/warn), except 401 and rate limits, which the
// access log writes at INFO.
func CountLogs(ctx context.Context, dir string, since time.Time) (LogCounts, error) {
	lc := LogCounts{Counts: map[string]int{}}
	for _, p := range Patterns {
		lc.Counts[p.Name] = 0
	}
	err := ScanLogs(ctx, dir, since, func(line, level string) {
		lc.Lines++
		isErr := level == "ERROR" || level == "WARN" || level == "WARNING" || level == "CRITICAL"
		for _, p := range Patterns {
			if !strings.Contains(line, p.Match) {
				continue
			}
			if p.Error && (p.Name == "db_errors" || p.Name == "redis_errors") && !isErr {
				continue
			}
			lc.Counts[p.Name]++
		}
	})
	return lc, err
}

// ScanLogs calls fn with each line of the *.log files of dir whose
// timestamp is at or after since, and the line's level (upper case).
func ScanLogs(ctx context.Context, dir string, since time.Time, fn func(line, level string)) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return err
	}
	for _, path := range files {
		if err := scanFile(ctx, path, since, fn); err != nil {
			return err
		}
	}
	return nil
}

func scanFile(ctx context.Context, path string, since time.Time, fn func(line, level string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.ModTime().Before(since) {
		return nil
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line := sc.Text()
		ts, level, ok := lineTime(line)
		if !ok || ts.Before(since) {
			continue
		}
		fn(line, level)
	}
	return sc.Err()
}

// lineTime parses the timestamp and level of a text line
// ("2006-01-02 15:04:05 LEVEL [service] message", local time) or a JSON line.
func lineTime(line string) (time.Time, string, bool) {
	if strings.HasPrefix(line, "{") {
		var v struct {
			Timestamp time.Time `json:"timestamp"`
			Level     string    `json:"level"`
		}
		if json.Unmarshal([]byte(line), &v) != nil || v.Timestamp.IsZero() {
			return time.Time{}, "", false
		}
		return v.Timestamp, strings.ToUpper(v.Level), true
	}
	if len(line) < 20 {
		return time.Time{}, "", false
	}
	ts, err := time.ParseInLocation("2006-01-02 15:04:05", line[:19], time.Local)
	if err != nil {
		return time.Time{}, "", false
	}
	level, _, _ := strings.Cut(line[20:], " ")
	return ts, level, true
}

// LogCheck counts the runbook's patterns in dir over window and warns when
// an error pattern reaches its threshold.
func LogCheck(dir string, window time.Duration, now func() time.Time) Check {
	return Check{Name: "logs", Run: func(ctx context.Context) Result {
		lc, err := CountLogs(ctx, dir, now().Add(-window))
		if err != nil {
			return fail("check paths.log_dir and its permissions", "read logs: %v", err)
		}
		return logVerdict(lc, window)
	}}
}

// logVerdict judges pattern counts over window.
func logVerdict(lc LogCounts, window time.Duration) Result {
	var parts, hints []string
	for _, p := range Patterns {
		parts = append(parts, fmt.Sprintf("%s=%d", p.Name, lc.Counts[p.Name]))
		if p.Error && lc.Counts[p.Name] >= p.Threshold {
			hints = append(hints, p.Hint)
		}
	}
	v := fmt.Sprintf("last %s: %s", ShortDuration(window), strings.Join(parts, " "))
	if len(hints) > 0 {
		return warn(strings.Join(hints, "; "), "%s", v)
	}
	return ok("%s", v)
}
