package serviceapi

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
	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/store"
)

// Revocations reports whether an access token was revoked, by its id
// (jti); [state.Store] implements it. It must be safe for concurrent use.
// An error means the answer is unknown, and the request is refused.
//
// [state.Store]: github.com/tars-ops/tarsctl/internal/state.Store
type Revocations interface {
	IsRevoked(ctx context.Context, jti string) (bool, error)
}

// AuthOptions configure [NewAuthenticator].
type AuthOptions struct {
	// Enabled and RBAC are auth.enabled and auth.rbac. With Enabled false
	// every request is served as an anonymous admin; with RBAC false any
	// valid token may do everything.
	Enabled, RBAC bool
	// Signer verifies tokens; it holds the secret all daemons share.
	// Required when Enabled.
	Signer *auth.Signer
	// Revocations is where logouts are recorded: dashboard-api's state
	// store, or the Redis the daemons share. nil means the revocations
	// cannot be seen from here (the in-process store of another daemon),
	// and a revoked token is accepted until it expires.
	Revocations Revocations
	Logger      *slog.Logger
	// OnDenied, when set, is called for every request refused with 401 or
	// 403, after the answer is written (dashboard-api records an
	// access_denied audit event).
	OnDenied func(r *http.Request, d Denial)
	// Now is the clock of the verified-token cache (default time.Now).
	Now func() time.Time
}

// Denial is a request [Authenticator.Require] refused.
type Denial struct {
	Status   int    // 401 or 403
	Username string // the token's subject (403 only)
	Role     string // the token's role (403 only)
	Needs    string // the role the endpoint needs (403 only)
	// Reason says why, for logs and the audit log. It never holds the
	// token.
	Reason string
}

// Authenticator checks the bearer tokens of requests: dashboard-api's
// JWTs, verified with the shared secret and looked up in the revocation
// list. It is safe for concurrent use.
type Authenticator struct {
	opts   AuthOptions
	tokens verifiedTokens
}

// NewAuthenticator returns an authenticator with o.
func NewAuthenticator(o AuthOptions) (*Authenticator, error) {
	if o.Enabled && o.Signer == nil {
		return nil, errors.New("authenticator: auth is enabled but there is no signer")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Authenticator{opts: o}, nil
}

// Principal is who made a request.
type Principal struct {
	Username string
	Role     string
	// TokenID (jti) and Expires are the access token's; empty when
	// authentication is off.
	TokenID string
	Expires time.Time
}

// anonymous is the principal of every request when authentication is off.
var anonymous = Principal{Username: "anonymous", Role: store.RoleAdmin}

type principalKey struct{}

// PrincipalFrom returns the caller of a request [Authenticator.Require]
// let through, and false for any other context.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// checkedToken is a bearer token a middleware already verified and looked
// up in the revocation list.
type checkedToken struct {
	token   string
	claims  auth.Claims
	revoked bool
}

type checkedKey struct{}

// WithCheckedToken returns ctx carrying the answers a middleware already
// has for token: its claims, from [Authenticator.Verify] of the same
// authenticator, and whether it is revoked. [Authenticator.Require] then
// uses them instead of asking again. dashboard-api's rate limiter asks the
// state store for the rate limit and the revocation in one round trip and
// hands the answer on this way, so an authenticated request costs one
// round trip, not two.
func WithCheckedToken(ctx context.Context, token string, claims auth.Claims, revoked bool) context.Context {
	return context.WithValue(ctx, checkedKey{}, checkedToken{token: token, claims: claims, revoked: revoked})
}

// BearerToken returns the token of an "Authorization: Bearer TOKEN"
// header (the scheme is case-insensitive, as RFC 7235 has it), and false
// when there is none.
func BearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// Verify checks a token's signature and claims (not its revocation) and
// returns the claims, or an error wrapping [auth.ErrInvalidToken]. Tokens
// already verified are remembered until they stop being valid.
func (a *Authenticator) Verify(token string) (auth.Claims, error) {
	return a.tokens.verify(a.opts.Signer, token, a.opts.Now())
}

// Authenticate returns who sent r: its bearer token verified and not
// revoked. The error says why not, for logs; it never holds the token. A
// revocation list that cannot be read refuses the request: without it a
// logged-out token could pass.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	tok, ok := BearerToken(r)
	if !ok {
		if r.Header.Get("Authorization") == "" {
			return Principal{}, errors.New("no Authorization header")
		}
		return Principal{}, errors.New("the Authorization header is not Bearer TOKEN")
	}
	var (
		c       auth.Claims
		revoked bool
		err     error
	)
	if ct, ok := r.Context().Value(checkedKey{}).(checkedToken); ok && ct.token == tok {
		c, revoked = ct.claims, ct.revoked
	} else {
		if c, err = a.Verify(tok); err != nil {
			return Principal{}, err
		}
		if a.opts.Revocations != nil {
			if revoked, err = a.opts.Revocations.IsRevoked(r.Context(), c.ID); err != nil {
				return Principal{}, fmt.Errorf("check token revocation: %w", err)
			}
		}
	}
	if revoked {
		return Principal{}, errors.New("token revoked")
	}
	return Principal{Username: c.Username, Role: c.Role, TokenID: c.ID, Expires: c.Expires}, nil
}

// Require serves h to requests whose token has at least role minRole, with
// the [Principal] in the request's context. It answers 401 {"error":
// "Unauthorized", "message": "Invalid or expired token"} with a
// WWW-Authenticate header for a missing, malformed, invalid, expired or
// revoked token, and 403 for a lesser role. minRole must be one of
// [store.Roles]: anything else is a programming error, and Require panics
// when the route is built.
func (a *Authenticator) Require(minRole string, h http.HandlerFunc) http.Handler {
	if RoleRank(minRole) == 0 {
		panic(fmt.Sprintf("serviceapi: Require(%q): not a role", minRole))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.opts.Enabled {
			h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, anonymous)))
			return
		}
		p, err := a.Authenticate(r)
		if err != nil {
			a.deny(w, r, Denial{Status: http.StatusUnauthorized, Reason: err.Error()})
			return
		}
		if a.opts.RBAC && !RoleAtLeast(p.Role, minRole) {
			a.deny(w, r, Denial{Status: http.StatusForbidden, Username: p.Username, Role: p.Role, Needs: minRole,
				Reason: fmt.Sprintf("role %s, needs %s", p.Role, minRole)})
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// deny logs, answers and reports a refused request.
func (a *Authenticator) deny(w http.ResponseWriter, r *http.Request, d Denial) {
	if d.Status == http.StatusUnauthorized {
		a.opts.Logger.Info("authentication failed", "reason", d.Reason, "ip", ClientIP(r), "path", r.URL.Path,
			"request_id", daemon.RequestID(r.Context()))
		w.Header().Set("WWW-Authenticate", `Bearer realm="tars"`)
		WriteError(w, http.StatusUnauthorized, "Invalid or expired token")
	} else {
		a.opts.Logger.Info("access denied", "user", d.Username, "role", d.Role, "needs", d.Needs, "ip", ClientIP(r),
			"path", r.URL.Path, "request_id", daemon.RequestID(r.Context()))
		WriteError(w, http.StatusForbidden, fmt.Sprintf("role %s may not do this: it needs %s", d.Role, d.Needs))
	}
	if a.opts.OnDenied != nil {
		a.opts.OnDenied(r, d)
	}
}

// ClientIP is the request's TCP peer address. X-Forwarded-For is not
// trusted: anyone can set it, and a rate limit or an audit record keyed on
// it could be dodged.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
