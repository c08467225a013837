package daemon

import (
	"net/http"
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
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	case Stopping:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "stopping"})
	default:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
	}
}
