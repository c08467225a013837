package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// Authenticator checks the dashboard API's JWTs on the APIs of the
// orchestrator and of HyperSync, with the dashboard's roles: viewer reads,
// operator acts. It is safe for concurrent use.
type Authenticator struct {
	// Enabled and RBAC are auth.enabled and auth.rbac. With Enabled false
	// every request is let through as an anonymous admin, as dashboard-api
	// does; with RBAC false any valid token may do everything.
	Enabled, RBAC bool
	// Signer verifies tokens; it holds the secret all daemons share.
	Signer *auth.Signer
	// Revoked, when set, reports whether a token id (jti) was revoked by a
	// logout at dashboard-api. It is set when the revocations live in a
	// Redis the daemons share; with the in-process store they cannot be
	// seen here, and a logged-out token stays valid until it expires.
	Revoked func(ctx context.Context, jti string) (bool, error)
	Logger  *slog.Logger
}

// NewAuthenticator returns an authenticator for the auth settings.
func NewAuthenticator(cfg config.AuthConfig, signer *auth.Signer, log *slog.Logger) *Authenticator {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Authenticator{Enabled: cfg.Enabled, RBAC: cfg.RBAC, Signer: signer, Logger: log}
}

var roleRank = map[string]int{store.RoleViewer: 1, store.RoleOperator: 2, store.RoleAdmin: 3}

// Principal is who made a request.
type Principal struct {
	Username string
	Role     string
}

type principalKey struct{}

// PrincipalFrom returns the caller of an authenticated request.
func PrincipalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

// Require serves h to requests whose token has at least role minRole; it
// answers 401 without a valid token and 403 for a lesser role, with the
// dashboard API's bodies.
func (a *Authenticator) Require(minRole string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.Enabled {
			h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, Principal{Username: "anonymous", Role: store.RoleAdmin})))
			return
		}
		p, err := a.authenticate(r)
		if err != nil {
			a.Logger.Info("authentication failed", "reason", err, "ip", peerIP(r), "path", r.URL.Path, "request_id", daemon.RequestID(r.Context()))
			w.Header().Set("WWW-Authenticate", `Bearer realm="tars"`)
			WriteError(w, http.StatusUnauthorized, "Invalid or expired token")
			return
		}
		if a.RBAC && roleRank[p.Role] < roleRank[minRole] {
			a.Logger.Info("access denied", "user", p.Username, "role", p.Role, "needs", minRole, "path", r.URL.Path, "request_id", daemon.RequestID(r.Context()))
			WriteError(w, http.StatusForbidden, fmt.Sprintf("role %s may not %s %s; it needs %s", p.Role, r.Method, r.URL.Path, minRole))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func (a *Authenticator) authenticate(r *http.Request) (Principal, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return Principal{}, errors.New("no bearer token")
	}
	c, err := a.Signer.Verify(tok)
	if err != nil {
		return Principal{}, err
	}
	if a.Revoked != nil {
		revoked, err := a.Revoked(r.Context(), c.ID)
		if err != nil {
			// Without the revocation list a logged-out token could pass: refuse.
			return Principal{}, fmt.Errorf("check token revocation: %w", err)
		}
		if revoked {
			return Principal{}, errors.New("token revoked")
		}
	}
	return Principal{Username: c.Username, Role: c.Role}, nil
}

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ServiceTokenTTL is the lifetime of the tokens daemons sign for each
// other: short, since one is made for every request.
const ServiceTokenTTL = 5 * time.Minute

// ServiceTokens returns a token source that signs a fresh token for every
// request, as subject "service:NAME" with role, using the JWT secret all
// daemons share. Daemons use it to call each other, and tarsctl, on the
// same machine, to call them.
func ServiceTokens(secret []byte, name, role string) (client.TokenSource, error) {
	signer, err := auth.NewSigner(secret, ServiceTokenTTL, nil)
	if err != nil {
		return nil, err
	}
	return func(context.Context) (string, error) {
		tok, _, err := signer.Issue("service:"+name, role)
		return tok, err
	}, nil
}

// WriteError writes the daemons' JSON error body: {"error": the status
// text, "message": msg}.
func WriteError(w http.ResponseWriter, code int, msg string) {
	daemon.WriteJSON(w, code, map[string]string{"error": http.StatusText(code), "message": msg})
}
