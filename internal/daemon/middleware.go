package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"
)

type ctxKey int

const requestIDKey ctxKey = 0

// RequestID returns the ID of the request being served, for log lines.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// statusWriter records the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// probePaths are logged at debug level only: probes come every few
// seconds and would drown the access log.
var probePaths = map[string]bool{"/health": true, "/ready": true, "/metrics": true}

// instrument wraps the daemon's mux: request ID, panic recovery, one
// access-log line and the request metrics per request.
func instrument(next http.Handler, log *slog.Logger, m *httpMetrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-ID", id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		sw := &statusWriter{ResponseWriter: w}
		m.inFlight.Inc()
		defer func() {
			m.inFlight.Dec()
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic serving request", "request_id", id, "method", r.Method, "path", r.URL.Path,
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.code == 0 {
					// The error body every daemon writes (client.ErrorBody), with
					// the ID that finds the panic in the log.
					writeJSON(sw, http.StatusInternalServerError, map[string]string{"error": "Internal Server Error",
						"message": "the request failed; the daemon's log has the details under request_id " + id, "request_id": id})
				}
			}
			code := sw.code
			if code == 0 {
				code = http.StatusOK
			}
			d := time.Since(start)
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			m.duration.WithLabelValues(r.Method, route, strconv.Itoa(code)).Observe(d.Seconds())
			level := slog.LevelInfo
			if probePaths[r.URL.Path] {
				level = slog.LevelDebug
			}
			if log.Enabled(r.Context(), level) {
				// The message carries status text and duration= because the
				// runbook greps for "401 Unauthorized" and "duration=".
				log.Log(r.Context(), level,
					fmt.Sprintf("%s %s %d %s duration=%s", r.Method, r.URL.Path, code, http.StatusText(code), fmtDuration(d)),
					"request_id", id, "remote", r.RemoteAddr, "status", code, "duration_ms", float64(d.Microseconds())/1000)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// fmtDuration prints milliseconds with up to three decimals: "12.345ms",
// so `sort -n` on the runbook's awk output orders lines correctly.
func fmtDuration(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', -1, 64) + "ms"
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// writeJSON writes v with the status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteJSON writes v as a JSON response with the status code; for service
// handlers.
func WriteJSON(w http.ResponseWriter, code int, v any) { writeJSON(w, code, v) }
