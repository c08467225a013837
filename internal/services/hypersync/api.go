package hypersync

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/serviceapi"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// List limits of GET /api/sync.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// NewHandler returns HyperSync's HTTP API:
//
//	POST /api/sync[?wait=DURATION]  operator  {"agent_id", "hyperparameters", "source"?} → the sync
//	GET  /api/sync                  viewer    ?agent_id=&status=&limit= → {"syncs": [...], "count", "pending"}
//	GET  /api/sync/{id}             viewer    the sync
//
// POST answers 202 once the sync is recorded, or, with wait, 200 when it
// was applied or failed within that time (202 if still pending).
func NewHandler(s *Syncer, authn *serviceapi.Authenticator, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{s: s, log: log}
	mux := http.NewServeMux()
	mux.Handle("POST /api/sync", authn.Require(store.RoleOperator, h.submit))
	mux.Handle("GET /api/sync", authn.Require(store.RoleViewer, h.list))
	mux.Handle("GET /api/sync/{id}", authn.Require(store.RoleViewer, h.get))
	mux.HandleFunc("/", serviceapi.NotFound)
	return mux
}

type handler struct {
	s   *Syncer
	log *slog.Logger
}

func (h *handler) submit(w http.ResponseWriter, r *http.Request) {
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > client.MaxSyncWait {
			serviceapi.WriteError(w, http.StatusBadRequest, fmt.Sprintf("wait must be a duration from 0s to %s, got %q", client.MaxSyncWait, v))
			return
		}
		wait = d
	}
	var req client.SyncRequest
	if !serviceapi.DecodeJSON(w, r, &req) {
		return
	}
	sy, done, err := h.s.Submit(req)
	switch {
	case errors.Is(err, ErrInvalid):
		serviceapi.WriteError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, ErrFull):
		w.Header().Set("Retry-After", "10")
		serviceapi.WriteError(w, http.StatusServiceUnavailable, err.Error())
		return
	case err != nil:
		h.log.Error("accept sync", "error", err, "request_id", daemon.RequestID(r.Context()))
		serviceapi.WriteError(w, http.StatusServiceUnavailable, "the sync could not be recorded: "+err.Error())
		return
	}
	h.log.Info("HyperSync accepted agent="+sy.AgentID, "sync_id", sy.ID, "source", sy.Source, "request_id", daemon.RequestID(r.Context()))
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-done:
			if cur, ok := h.s.Get(sy.ID); ok {
				daemon.WriteJSON(w, http.StatusOK, cur)
				return
			}
		case <-t.C:
		case <-r.Context().Done():
		}
		if cur, ok := h.s.Get(sy.ID); ok {
			sy = cur
		}
	}
	daemon.WriteJSON(w, http.StatusAccepted, sy)
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := Filter{AgentID: q.Get("agent_id"), Status: q.Get("status"), Limit: DefaultListLimit}
	switch f.Status {
	case "", client.SyncPending, client.SyncApplied, client.SyncFailed:
	default:
		serviceapi.WriteError(w, http.StatusBadRequest, fmt.Sprintf("status must be pending, applied or failed, got %q", f.Status))
		return
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxListLimit {
			serviceapi.WriteError(w, http.StatusBadRequest, fmt.Sprintf("limit must be from 1 to %d, got %q", MaxListLimit, v))
			return
		}
		f.Limit = n
	}
	daemon.WriteJSON(w, http.StatusOK, h.s.List(f))
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	sy, ok := h.s.Get(r.PathValue("id"))
	if !ok {
		serviceapi.WriteError(w, http.StatusNotFound, fmt.Sprintf("no sync %q (only the last %d settled syncs are kept)", r.PathValue("id"), h.s.opts.Retain))
		return
	}
	daemon.WriteJSON(w, http.StatusOK, sy)
}
