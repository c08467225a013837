package orchestrator

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/serviceapi"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// NewHandler returns the orchestrator's HTTP API:
//
//	GET  /api/agents                        viewer    {"agents": [...], "count": N}
//	GET  /api/agents/{id}                   viewer    the agent
//	POST /api/agents/{id}/train             operator  {"episodes", "seed"?, "hyperparameters"?} → the run's result
//	PUT  /api/agents/{id}/hyperparameters   operator  {"learning_rate"?, ...} → the agent
//
// The daemon package serves /health, /ready and /metrics beside it.
// Authentication, request bodies and error answers are serviceapi's.
func NewHandler(o *Orchestrator, authn *serviceapi.Authenticator, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{o: o, log: log}
	mux := http.NewServeMux()
	mux.Handle("GET /api/agents", authn.Require(store.RoleViewer, h.list))
	mux.Handle("GET /api/agents/{id}", authn.Require(store.RoleViewer, h.get))
	mux.Handle("POST /api/agents/{id}/train", authn.Require(store.RoleOperator, h.train))
	mux.Handle("PUT /api/agents/{id}/hyperparameters", authn.Require(store.RoleOperator, h.setHyperparameters))
	mux.HandleFunc("/", serviceapi.NotFound)
	return mux
}

type handler struct {
	o   *Orchestrator
	log *slog.Logger
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	agents := h.o.List()
	daemon.WriteJSON(w, http.StatusOK, client.AgentList{Agents: agents, Count: len(agents)})
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	a, err := h.o.Get(r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	daemon.WriteJSON(w, http.StatusOK, a)
}

func (h *handler) train(w http.ResponseWriter, r *http.Request) {
	var req client.TrainRequest
	if !serviceapi.DecodeJSON(w, r, &req) {
		return
	}
	res, err := h.o.Train(r.Context(), r.PathValue("id"), req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	daemon.WriteJSON(w, http.StatusOK, res)
}

func (h *handler) setHyperparameters(w http.ResponseWriter, r *http.Request) {
	var u client.HyperparameterUpdate
	if !serviceapi.DecodeJSON(w, r, &u) {
		return
	}
	a, err := h.o.SetHyperparameters(r.PathValue("id"), u)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	daemon.WriteJSON(w, http.StatusOK, a)
}

// fail maps an orchestrator error to its status code.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrBusy), errors.Is(err, ErrSeedConflict), errors.Is(err, ErrBroken):
		code = http.StatusConflict
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		code = http.StatusServiceUnavailable
	default:
		h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err, "request_id", daemon.RequestID(r.Context()))
	}
	serviceapi.WriteError(w, code, err.Error())
}
