package dashboardapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/daemon"
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
	Audit         *Audit // nil: no audit log
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
	tokens     verifiedTokens
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

	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/login", s.login)
	mux.HandleFunc("POST /auth/refresh", s.refresh)
	mux.Handle("POST /auth/logout", s.require(store.RoleViewer, s.logout))
	mux.Handle("GET /api/me", s.require(store.RoleViewer, s.me))
	mux.Handle("GET /api/agents", s.require(store.RoleViewer, s.listAgents))
	mux.Handle("POST /api/agents", s.require(store.RoleOperator, s.upsertAgent))
	mux.Handle("GET /api/users", s.require(store.RoleAdmin, s.listUsers))
	mux.Handle("GET /api/compliance/status", s.require(store.RoleViewer, s.complianceStatus))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not Found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return s.rateLimit(mux), nil
}

// clientIP is the peer address. X-Forwarded-For is not trusted: anyone can
// set it, and a rate limit keyed on it could be dodged.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// rateLimit applies the per-IP and global limits to every API request.
func (s *server) rateLimit(next http.Handler) http.Handler {
	rl := s.Config.RateLimiting
	if !rl.Enabled {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := clientIP(r)
		if s.Config.Auth.Enabled {
			// An authenticated request asks the state store two things: its
			// rate limit and whether its token was revoked. Ask both in one
			// round trip, and hand the answer on to require.
			if tok, ok := bearer(r); ok {
				if c, err := s.tokens.verify(s.Signer, tok, s.Now()); err == nil {
					d, revoked, err := s.State.AllowAndCheck(r.Context(), "rate_limit:"+ip, rl.RequestsPerMinute, time.Minute, c.ID)
					if err == nil {
						r = r.WithContext(context.WithValue(r.Context(), checkedKey{}, checkedToken{token: tok, claims: c, revoked: revoked}))
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
	s.Logger.Warn("rate_limit_exceeded", "scope", scope, "ip", clientIP(r), "limit", limit, "retry_after", secs,
		"path", r.URL.Path, "request_id", daemon.RequestID(r.Context()))
	if scope == "login" {
		s.audit(r, "rate_limited", "", "denied", "login attempts over the limit")
	}
	w.Header().Set("Retry-After", fmt.Sprint(secs))
	daemon.WriteJSON(w, http.StatusTooManyRequests, map[string]any{"error": "Too Many Requests", "retry_after": secs})
	return false
}

type principalKey struct{}

// principal is who made a request.
type principal struct {
	Username string
	Role     string
	TokenID  string
	Expires  time.Time
}

var roleRank = map[string]int{store.RoleViewer: 1, store.RoleOperator: 2, store.RoleAdmin: 3}

// require authenticates the request and checks that its role is at least
// min. With auth disabled (the local profile's default) every request acts
// as an anonymous admin; with RBAC off every authenticated user may do
// everything.
func (s *server) require(min string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.Config.Auth.Enabled {
			r = r.WithContext(context.WithValue(r.Context(), principalKey{}, principal{Username: "anonymous", Role: store.RoleAdmin}))
			h(w, r)
			return
		}
		p, err := s.authenticate(r)
		if err != nil {
			s.Logger.Info("authentication failed", "reason", err, "ip", clientIP(r), "path", r.URL.Path, "request_id", daemon.RequestID(r.Context()))
			s.audit(r, "access_denied", "", "unauthorized", err.Error())
			w.Header().Set("WWW-Authenticate", `Bearer realm="tars"`)
			writeError(w, http.StatusUnauthorized, "Unauthorized", "Invalid or expired token")
			return
		}
		if s.Config.Auth.RBAC && roleRank[p.Role] < roleRank[min] {
			s.audit(r, "access_denied", p.Username, "forbidden", fmt.Sprintf("role %s, needs %s", p.Role, min))
			writeError(w, http.StatusForbidden, "Forbidden", fmt.Sprintf("role %s may not %s %s; it needs %s", p.Role, r.Method, r.URL.Path, min))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// checkedToken is a bearer token the rate limiter already verified and
// looked up in the revocation list.
type checkedToken struct {
	token   string
	claims  auth.Claims
	revoked bool
}

type checkedKey struct{}

func bearer(r *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return tok, ok && tok != ""
}

func (s *server) authenticate(r *http.Request) (principal, error) {
	tok, ok := bearer(r)
	if !ok {
		return principal{}, errors.New("no bearer token")
	}
	var (
		c       auth.Claims
		revoked bool
		err     error
	)
	if ct, ok := r.Context().Value(checkedKey{}).(checkedToken); ok && ct.token == tok {
		c, revoked = ct.claims, ct.revoked
	} else {
		if c, err = s.tokens.verify(s.Signer, tok, s.Now()); err != nil {
			return principal{}, err
		}
		if revoked, err = s.State.IsRevoked(r.Context(), c.ID); err != nil {
			// Without the revocation list a logged-out token could pass: refuse.
			return principal{}, fmt.Errorf("check token revocation: %w", err)
		}
	}
	if revoked {
		return principal{}, errors.New("token revoked")
	}
	return principal{Username: c.Username, Role: c.Role, TokenID: c.ID, Expires: c.Expires}, nil
}

func principalFrom(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

func (s *server) audit(r *http.Request, event, user, outcome, detail string) {
	if s.Audit == nil {
		return
	}
	s.Audit.Record(AuditEvent{
		Time: s.Now(), Event: event, Username: user, IP: clientIP(r),
		RequestID: daemon.RequestID(r.Context()), Outcome: outcome, Detail: detail,
	})
}

func writeError(w http.ResponseWriter, code int, title, msg string) {
	daemon.WriteJSON(w, code, map[string]string{"error": title, "message": msg})
}

// maxBody caps request bodies: every endpoint takes a small JSON object.
const maxBody = 64 << 10

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "Bad Request", "request body must be a JSON object: "+err.Error())
		return false
	}
	return true
}
