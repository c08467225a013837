package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/tars-ops/tarsctl/internal/daemon"
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
func NewHandler(o *Orchestrator, authn *Authenticator, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{o: o, log: log}
	mux := http.NewServeMux()
	mux.Handle("GET /api/agents", authn.Require(store.RoleViewer, h.list))
	mux.Handle("GET /api/agents/{id}", authn.Require(store.RoleViewer, h.get))
	mux.Handle("POST /api/agents/{id}/train", authn.Require(store.RoleOperator, h.train))
	mux.Handle("PUT /api/agents/{id}/hyperparameters", authn.Require(store.RoleOperator, h.setHyperparameters))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
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
	if !DecodeJSON(w, r, &req) {
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
	if !DecodeJSON(w, r, &u) {
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
	WriteError(w, code, err.Error())
}

// maxBody caps request bodies: every endpoint takes a small JSON object.
const maxBody = 64 << 10

// DecodeJSON decodes a request body into v, refusing unknown fields, and
// answers 400 itself when it cannot.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		err = errors.New("empty body")
	}
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err != nil {
		WriteError(w, http.StatusBadRequest, fmt.Sprintf("request body must be one JSON object: %v", err))
		return false
	}
	return true
}
