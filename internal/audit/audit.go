// Package audit writes the audit log: one JSON object per line, 0600,
// appended by dashboard-api for every security event (logins, refresh
// reuse, denied access, rate limiting). It never records passwords or
// tokens. triage reads the same format back.
package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Event is one line of the audit log.
type Event struct {
	Time      time.Time `json:"time"`
	Event     string    `json:"event"` // login_success, login_failure, token_refresh, refresh_reuse_detected, logout, access_denied, rate_limited, agent_upsert
	Username  string    `json:"username,omitempty"`
	IP        string    `json:"ip,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Outcome   string    `json:"outcome"`
	Detail    string    `json:"detail,omitempty"`
}

// Log appends events to a JSON-lines file (0600). It never records
// passwords or tokens.
type Log struct {
	mu  sync.Mutex
	f   *os.File
	err func(error)
}

// Open opens (or creates) the audit log; onError receives write
// failures, which must not fail the request being audited.
func Open(path string, onError func(error)) (*Log, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	if onError == nil {
		onError = func(error) {}
	}
	return &Log{f: f, err: onError}, nil
}

// Record appends one event.
func (a *Log) Record(e Event) {
	b, err := json.Marshal(e)
	if err != nil {
		a.err(err)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// One write per line: O_APPEND keeps lines whole across processes.
	if _, err := a.f.Write(append(b, '\n')); err != nil {
		a.err(fmt.Errorf("write audit log: %w", err))
	}
}

// Close closes the file.
func (a *Log) Close() error { return a.f.Close() }
