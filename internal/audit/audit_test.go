package audit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLogAppendsPrivateJSONLines(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "logs", "audit.log")
	l, err := Open(path, func(err error) { t.Errorf("write: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	l.Record(Event{Time: at, Event: "login_failure", Username: "alice", IP: "127.0.0.1", Outcome: "denied"})
	l.Record(Event{Time: at, Event: "logout", Username: "alice", Outcome: "ok"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopening appends.
	l, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Record(Event{Time: at, Event: "login_success", Username: "bob", Outcome: "ok"})
	l.Close()

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), b)
	}
	var e Event
	if err := json.Unmarshal([]byte(lines[0]), &e); err != nil || e.Event != "login_failure" || e.Username != "alice" || !e.Time.Equal(at) {
		t.Errorf("first line %q: %+v, %v", lines[0], e, err)
	}
	if err := json.Unmarshal([]byte(lines[2]), &e); err != nil || e.Username != "bob" {
		t.Errorf("appended line %q: %+v, %v", lines[2], e, err)
	}
}
