package daemon

import (
	"net/http"
	"os"
	"sync/atomic"
)

// Readiness states.
const (
	NotReady int32 = iota
	Ready
	Stopping
)

// readiness answers /ready: 200 only while Ready.
type readiness struct{ state atomic.Int32 }

func (r *readiness) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	switch r.state.Load() {
	case Ready:
		// The pid lets a supervisor tell its daemon from another process
		// that happens to answer on the same port.
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "pid": os.Getpid()})
	case Stopping:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "stopping"})
	default:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
	}
}
