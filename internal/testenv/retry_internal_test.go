package testenv

import (
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

// takenThenFree returns a port picker whose first port is already taken by a
// listener held until t ends, and the taken port.
func takenThenFree(t *testing.T) (pick func() (int, error), taken int, picks *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	taken = l.Addr().(*net.TCPAddr).Port
	picks = new(atomic.Int32)
	return func() (int, error) {
		if picks.Add(1) == 1 {
			return taken, nil
		}
		return freePort()
	}, taken, picks
}

// TestStartRetriesOnBindClash gives each server a port another process holds
// and checks that it notices from the server's log and moves to another port.
func TestStartRetriesOnBindClash(t *testing.T) {
	t.Parallel()
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		pick, taken, picks := takenThenFree(t)
		s, err := startRedis(t.Context(), pick)
		if err != nil {
			t.Fatalf("startRedis: %v", err)
		}
		defer s.stop()
		if s.Port == taken || picks.Load() != 2 {
			t.Errorf("server on port %d after %d picks; want a second port after the taken %d", s.Port, picks.Load(), taken)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		pick, taken, picks := takenThenFree(t)
		s, err := startPostgres(t.Context(), pick)
		if err != nil {
			t.Fatalf("startPostgres: %v", err)
		}
		defer s.stop()
		if s.Port == taken || picks.Load() != 2 {
			t.Errorf("server on port %d after %d picks; want a second port after the taken %d", s.Port, picks.Load(), taken)
		}
	})
}

// TestStartGivesUpOnBindClash checks that a server that never gets a free
// port fails after startAttempts tries, quoting the server's complaint.
func TestStartGivesUpOnBindClash(t *testing.T) {
	t.Parallel()
	pick, _, picks := takenThenFree(t)
	first, _ := pick()
	always := func() (int, error) { picks.Add(1); return first, nil }
	_, err := startRedis(t.Context(), always)
	if !errors.Is(err, errAddrInUse) || !strings.Contains(err.Error(), "Address already in use") {
		t.Errorf("startRedis on a taken port: %v; want errAddrInUse quoting the log", err)
	}
	if got := picks.Load(); got != startAttempts+1 {
		t.Errorf("%d picks, want %d", got-1, startAttempts)
	}
}

func TestDBNamePrefix(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"TestX", "t_testx"},
		{"TestX/sub_case#01", "t_testx_sub_case_01"},
		{"Test//ÄÖ--x", "t_test_x"},
		{strings.Repeat("a", 100), "t_" + strings.Repeat("a", 42)},
	}
	for _, tt := range tests {
		if got := dbNamePrefix(tt.in); got != tt.want {
			t.Errorf("dbNamePrefix(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestConnStringValue(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"app", "app"},
		{"", "''"},
		{"a b", "'a b'"},
		{`it's\`, `'it\'s\\'`},
	}
	for _, tt := range tests {
		if got := connStringValue(tt.in); got != tt.want {
			t.Errorf("connStringValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
