package dashboardapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tars-ops/tarsctl/internal/audit"
	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/serviceapi"
	"github.com/tars-ops/tarsctl/internal/state"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// Users is the account and dashboard-data store the API needs; *store.DB
// implements it.
type Users interface {
	GetUser(ctx context.Context, username string) (store.User, error)
	CreateUser(ctx context.Context, u store.User) error
	CountUsers(ctx context.Context) (int, error)
	ListUsers(ctx context.Context) ([]store.User, error)
	ListAgents(ctx context.Context) ([]store.Agent, error)
	UpsertAgent(ctx context.Context, a store.Agent) error
}

// Options are the dependencies of the dashboard API.
type Options struct {
	Config        *config.Config
	Users         Users
	State         state.Store
	Signer        *auth.Signer
	CheckPassword func(hash, password string) (bool, error)
	Logger        *slog.Logger
	Audit         *audit.Log // nil: no audit log
	Registry      prometheus.Registerer
	Now           func() time.Time
	// Orchestrator, when set, is where GET /api/agents gets the agents
	// from; if it cannot answer within OrchestratorTimeout the dashboard's
	// own agents table is listed instead, with a warning.
	Orchestrator        AgentLister
	OrchestratorTimeout time.Duration // default 1s
}

// AgentLister lists the orchestrator's agents; *client.Client implements
// it.
type AgentLister interface {
	ListAgents(ctx context.Context) ([]client.Agent, error)
}

type server struct {
	Options
	rejections *prometheus.CounterVec
	authn      *serviceapi.Authenticator
	agents     agentsCache
	// dummyHash is checked when a user does not exist, so that "no such
	// user" takes as long as "wrong password". Made on first use: argon2
	// needs tens of MiB, which an idle daemon should not hold.
	dummyHash func() (string, error)
}

// New returns the dashboard API handler.
func New(opts Options) (http.Handler, error) {
	if opts.Config == nil || opts.Users == nil || opts.State == nil || opts.Signer == nil || opts.CheckPassword == nil {
		return nil, errors.New("dashboard API: Config, Users, State, Signer and CheckPassword are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OrchestratorTimeout <= 0 {
		opts.OrchestratorTimeout = time.Second
	}
	s := &server{Options: opts}
	s.rejections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rate_limit_rejections_total",
		Help: "Requests refused with 429, by limit scope (ip, global, login).",
	}, []string{"scope"})
	if opts.Registry != nil {
		if err := opts.Registry.Register(s.rejections); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	s.dummyHash = sync.OnceValues(func() (string, error) { return store.HashPassword(auth.RandomID()) })
	authn, err := serviceapi.NewAuthenticator(serviceapi.AuthOptions{
		Enabled: opts.Config.Auth.Enabled, RBAC: opts.Config.Auth.RBAC, Signer: opts.Signer,
		Revocations: opts.State, Logger: opts.Logger, Now: opts.Now, OnDenied: s.denied,
	})
	if err != nil {
		return nil, err
	}
	s.authn = authn

	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/login", s.login)
	mux.HandleFunc("POST /auth/refresh", s.refresh)
	mux.Handle("POST /auth/logout", s.authn.Require(store.RoleViewer, s.logout))
	mux.Handle("GET /api/me", s.authn.Require(store.RoleViewer, s.me))
	mux.Handle("GET /api/agents", s.authn.Require(store.RoleViewer, s.listAgents))
	mux.Handle("POST /api/agents", s.authn.Require(store.RoleOperator, s.upsertAgent))
	mux.Handle("GET /api/users", s.authn.Require(store.RoleAdmin, s.listUsers))
	mux.Handle("GET /api/compliance/status", s.authn.Require(store.RoleViewer, s.complianceStatus))
	mux.HandleFunc("/", serviceapi.NotFound)
	return s.rateLimit(mux), nil
}

// rateLimit applies the per-IP and global limits to every API request.
func (s *server) rateLimit(next http.Handler) http.Handler {
	rl := s.Config.RateLimiting
	if !rl.Enabled {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := serviceapi.ClientIP(r)
		if s.Config.Auth.Enabled {
			// An authenticated request asks the state store two things: its
			// rate limit and whether its token was revoked. Ask both in one
			// round trip, and hand the answer on to Require.
			if tok, ok := serviceapi.BearerToken(r); ok {
				if c, err := s.authn.Verify(tok); err == nil {
					d, revoked, err := s.State.AllowAndCheck(r.Context(), "rate_limit:"+ip, rl.RequestsPerMinute, time.Minute, c.ID)
					if err == nil {
						r = r.WithContext(serviceapi.WithCheckedToken(r.Context(), tok, c, revoked))
					}
					if !s.decide(w, r, "ip", rl.RequestsPerMinute, d, err) {
						return
					}
					if rl.GlobalRequestsPerMinute > 0 && !s.allow(w, r, "global", "rate_limit:global", rl.GlobalRequestsPerMinute) {
						return
					}
					next.ServeHTTP(w, r)
					return
				}
			}
		}
		if !s.allow(w, r, "ip", "rate_limit:"+ip, rl.RequestsPerMinute) {
			return
		}
		if rl.GlobalRequestsPerMinute > 0 && !s.allow(w, r, "global", "rate_limit:global", rl.GlobalRequestsPerMinute) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allow counts the request against key and writes the 429 when over. A
// store that cannot be reached lets the request through: losing the limit
// for a moment is better than losing the API.
func (s *server) allow(w http.ResponseWriter, r *http.Request, scope, key string, limit int) bool {
	d, err := s.State.Allow(r.Context(), key, limit, time.Minute)
	return s.decide(w, r, scope, limit, d, err)
}

// rateLimitMessages say which limit a 429 is for, by scope.
var rateLimitMessages = map[string]string{
	"ip":     "too many requests from this address",
	"global": "too many requests to this service",
	"login":  "too many login attempts from this address",
}

// decide writes the 429 for a refused decision and says whether to go on.
func (s *server) decide(w http.ResponseWriter, r *http.Request, scope string, limit int, d state.Decision, err error) bool {
	if err != nil {
		s.Logger.Error("rate limiter unavailable; request allowed", "error", err, "request_id", daemon.RequestID(r.Context()))
		return true
	}
	if d.Allowed {
		return true
	}
	secs := int((d.RetryAfter + time.Second - 1) / time.Second)
	s.rejections.WithLabelValues(scope).Inc()
	s.Logger.Warn("rate_limit_exceeded", "scope", scope, "ip", serviceapi.ClientIP(r), "limit", limit, "retry_after", secs,
		"path", r.URL.Path, "request_id", daemon.RequestID(r.Context()))
	if scope == "login" {
		s.audit(r, "rate_limited", "", "denied", "login attempts over the limit")
	}
	w.Header().Set("Retry-After", fmt.Sprint(secs))
	daemon.WriteJSON(w, http.StatusTooManyRequests, client.ErrorBody{
		Error: http.StatusText(http.StatusTooManyRequests), Message: fmt.Sprintf("%s; retry in %ds", rateLimitMessages[scope], secs), RetryAfter: secs,
	})
	return false
}

// denied records a request the authenticator refused in the audit log.
func (s *server) denied(r *http.Request, d serviceapi.Denial) {
	if d.Status == http.StatusUnauthorized {
		s.audit(r, "access_denied", "", "unauthorized", d.Reason)
	} else {
		s.audit(r, "access_denied", d.Username, "forbidden", d.Reason)
	}
}

// principalFrom is the caller of a request Require let through.
func principalFrom(ctx context.Context) serviceapi.Principal {
	p, _ := serviceapi.PrincipalFrom(ctx)
	return p
}

func (s *server) audit(r *http.Request, event, user, outcome, detail string) {
	if s.Audit == nil {
		return
	}
	s.Audit.Record(audit.Event{
		Time: s.Now(), Event: event, Username: user, IP: serviceapi.ClientIP(r),
		RequestID: daemon.RequestID(r.Context()), Outcome: outcome, Detail: detail,
	})
}
