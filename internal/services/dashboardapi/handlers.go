package dashboardapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/compliance"
	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/serviceapi"
	"github.com/tars-ops/tarsctl/internal/state"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// TokenResponse is the body of a successful login or refresh.
type TokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
	Username         string `json:"username"`
	Role             string `json:"role"`
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	rl := s.Config.RateLimiting
	if rl.Enabled && !s.allow(w, r, "login", "rate_limit:login:"+serviceapi.ClientIP(r), rl.LoginRequestsPerMinute) {
		return
	}
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
		TOTP     string `json:"totp"`
	}
	if !serviceapi.DecodeJSON(w, r, &req) {
		return
	}
	if req.Username == "" || req.Password == "" {
		serviceapi.WriteError(w, http.StatusBadRequest, "username and password are required")
		return
	}
	u, err := s.Users.GetUser(r.Context(), req.Username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Hash anyway so that "no such user" takes as long as "wrong password".
		if h, err := s.dummyHash(); err == nil {
			_, _ = s.CheckPassword(h, req.Password)
		}
		s.loginFailed(w, r, req.Username, "unknown user", "Invalid username or password")
		return
	case err != nil:
		s.Logger.Error("login: read user", "error", err, "request_id", daemon.RequestID(r.Context()))
		serviceapi.WriteError(w, http.StatusServiceUnavailable, "the user store cannot be reached")
		return
	}
	ok, err := s.CheckPassword(u.PasswordHash, req.Password)
	if err != nil || !ok {
		s.loginFailed(w, r, req.Username, "wrong password", "Invalid username or password")
		return
	}
	if s.Config.Auth.RequireMFA {
		switch {
		case u.TOTPSecret == "":
			s.loginFailed(w, r, req.Username, "MFA not enrolled",
				"MFA is required but this user has no TOTP secret; an admin can enrol one with `tarsctl users set-totp`")
			return
		case req.TOTP == "":
			s.audit(r, "login_failure", req.Username, "denied", "TOTP code missing")
			daemon.WriteJSON(w, http.StatusUnauthorized, struct {
				client.ErrorBody
				MFARequired bool `json:"mfa_required"`
			}{client.ErrorBody{Error: http.StatusText(http.StatusUnauthorized), Message: "TOTP code required"}, true})
			return
		case !auth.CheckTOTP(u.TOTPSecret, req.TOTP, s.Now()):
			s.loginFailed(w, r, req.Username, "wrong TOTP code", "Invalid TOTP code")
			return
		}
	}
	resp, err := s.issue(r, u.Username, u.Role, auth.RandomID())
	if err != nil {
		s.Logger.Error("login: issue tokens", "error", err, "request_id", daemon.RequestID(r.Context()))
		serviceapi.WriteError(w, http.StatusServiceUnavailable, "tokens cannot be issued right now")
		return
	}
	s.Logger.Info("JWT issued", "user", u.Username, "role", u.Role, "ip", serviceapi.ClientIP(r), "request_id", daemon.RequestID(r.Context()))
	s.audit(r, "login_success", u.Username, "ok", "")
	daemon.WriteJSON(w, http.StatusOK, resp)
}

func (s *server) loginFailed(w http.ResponseWriter, r *http.Request, user, reason, msg string) {
	s.Logger.Warn("login failed", "user", user, "reason", reason, "ip", serviceapi.ClientIP(r), "request_id", daemon.RequestID(r.Context()))
	s.audit(r, "login_failure", user, "denied", reason)
	serviceapi.WriteError(w, http.StatusUnauthorized, msg)
}

// issue creates an access token and a refresh token in family.
func (s *server) issue(r *http.Request, username, role, family string) (TokenResponse, error) {
	access, _, err := s.Signer.Issue(username, role)
	if err != nil {
		return TokenResponse{}, err
	}
	refreshTTL := time.Duration(s.Config.Auth.RefreshExpiry) * time.Second
	refresh := auth.NewRefreshToken()
	err = s.State.SaveRefresh(r.Context(), auth.HashToken(refresh), state.Refresh{
		Username: username, Role: role, Family: family, Expires: s.Now().Add(refreshTTL),
	})
	if err != nil {
		return TokenResponse{}, err
	}
	return TokenResponse{
		AccessToken: access, TokenType: "Bearer", ExpiresIn: s.Config.Auth.JWTExpiry,
		RefreshToken: refresh, RefreshExpiresIn: s.Config.Auth.RefreshExpiry,
		Username: username, Role: role,
	}, nil
}

func (s *server) refresh(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if !serviceapi.DecodeJSON(w, r, &req) {
		return
	}
	if req.RefreshToken == "" {
		serviceapi.WriteError(w, http.StatusBadRequest, "refresh_token is required")
		return
	}
	rec, err := s.State.UseRefresh(r.Context(), auth.HashToken(req.RefreshToken))
	switch {
	case errors.Is(err, state.ErrReused):
		// A spent token came back: someone holds a copy. Revoke the family
		// so neither the thief nor the user can go on with it.
		ttl := time.Duration(s.Config.Auth.RefreshExpiry) * time.Second
		if rerr := s.State.RevokeFamily(r.Context(), rec.Family, ttl); rerr != nil {
			s.Logger.Error("refresh: revoke family after reuse", "error", rerr)
		}
		s.Logger.Warn("refresh token reuse detected; token family revoked", "user", rec.Username, "ip", serviceapi.ClientIP(r), "request_id", daemon.RequestID(r.Context()))
		s.audit(r, "refresh_reuse_detected", rec.Username, "denied", "token family revoked")
		serviceapi.WriteError(w, http.StatusUnauthorized, "Invalid or expired refresh token")
		return
	case errors.Is(err, state.ErrNotFound):
		s.audit(r, "token_refresh", "", "denied", "unknown or expired refresh token")
		serviceapi.WriteError(w, http.StatusUnauthorized, "Invalid or expired refresh token")
		return
	case err != nil:
		s.Logger.Error("refresh: state store", "error", err)
		serviceapi.WriteError(w, http.StatusServiceUnavailable, "tokens cannot be refreshed right now")
		return
	}
	// The account may have been deleted or its role changed since login.
	u, err := s.Users.GetUser(r.Context(), rec.Username)
	if err != nil {
		s.audit(r, "token_refresh", rec.Username, "denied", "user no longer exists")
		serviceapi.WriteError(w, http.StatusUnauthorized, "Invalid or expired refresh token")
		return
	}
	resp, err := s.issue(r, u.Username, u.Role, rec.Family)
	if err != nil {
		s.Logger.Error("refresh: issue tokens", "error", err)
		serviceapi.WriteError(w, http.StatusServiceUnavailable, "tokens cannot be refreshed right now")
		return
	}
	s.Logger.Info("JWT issued", "user", u.Username, "role", u.Role, "via", "refresh", "request_id", daemon.RequestID(r.Context()))
	s.audit(r, "token_refresh", u.Username, "ok", "")
	daemon.WriteJSON(w, http.StatusOK, resp)
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	// The body is optional: a logout with none still revokes the access
	// token, which is what a caller who sends none wants.
	if !serviceapi.DecodeOptionalJSON(w, r, &req) {
		return
	}
	if p.TokenID != "" {
		if err := s.State.RevokeToken(r.Context(), p.TokenID, time.Until(p.Expires)+time.Second); err != nil {
			s.Logger.Error("logout: revoke token", "error", err)
			serviceapi.WriteError(w, http.StatusServiceUnavailable, "the token could not be revoked")
			return
		}
	}
	if req.RefreshToken != "" {
		rec, err := s.State.UseRefresh(r.Context(), auth.HashToken(req.RefreshToken))
		if err == nil || errors.Is(err, state.ErrReused) {
			ttl := time.Duration(s.Config.Auth.RefreshExpiry) * time.Second
			if err := s.State.RevokeFamily(r.Context(), rec.Family, ttl); err != nil {
				s.Logger.Error("logout: revoke refresh family", "error", err)
			}
		}
	}
	s.audit(r, "logout", p.Username, "ok", "")
	daemon.WriteJSON(w, http.StatusOK, map[string]string{"status": "logged out"})
}

func (s *server) me(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	daemon.WriteJSON(w, http.StatusOK, map[string]string{"username": p.Username, "role": p.Role})
}

// listAgents shows the orchestrator's agents ("source": "orchestrator"),
// or the dashboard's own table ("source": "dashboard") when there is no
// orchestrator or it cannot answer in time ("warning" says so).
// agentsTTL is how long one agents list is served before it is asked for
// again: a dashboard polls, and without it every poll of every client
// would reach the orchestrator (or the database).
const agentsTTL = time.Second

// agentsCache holds the last agents response body. An expired body is
// still served while one request refreshes it, so a slow orchestrator
// slows one request a second, not all of them.
type agentsCache struct {
	mu         sync.Mutex
	body       []byte
	expires    time.Time
	refreshing bool
}

func (s *server) listAgents(w http.ResponseWriter, r *http.Request) {
	body, err := s.cachedAgents(r)
	if err != nil {
		s.Logger.Error("list agents", "error", err)
		serviceapi.WriteError(w, http.StatusServiceUnavailable, "the database cannot be reached")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

func (s *server) cachedAgents(r *http.Request) ([]byte, error) {
	c := &s.agents
	c.mu.Lock()
	now := s.Now()
	if c.body != nil && (now.Before(c.expires) || c.refreshing) {
		body := c.body
		c.mu.Unlock()
		return body, nil
	}
	first := c.body == nil
	c.refreshing = true
	if !first {
		c.mu.Unlock()
	}
	// With nothing cached yet, the lock stays held: the other requests wait
	// for this one's answer instead of all asking at once.
	body, err := s.agentsBody(r)
	if !first {
		c.mu.Lock()
	}
	c.refreshing = false
	if err == nil {
		c.body, c.expires = body, s.Now().Add(agentsTTL)
	} else if c.body != nil {
		body, err = c.body, nil // keep serving the last good list
	}
	c.mu.Unlock()
	return body, err
}

// agentsBody renders the agents list: the orchestrator's, or the
// dashboard's own table when the orchestrator cannot be reached.
func (s *server) agentsBody(r *http.Request) ([]byte, error) {
	var warning string
	if s.Orchestrator != nil {
		ctx, cancel := context.WithTimeout(r.Context(), s.OrchestratorTimeout)
		agents, err := s.Orchestrator.ListAgents(ctx)
		cancel()
		if err == nil {
			return jsonBody(map[string]any{"agents": agents, "count": len(agents), "source": "orchestrator"})
		}
		warning = "the orchestration agent could not be reached; showing the dashboard's own agents"
		s.Logger.Warn("Orchestrator unavailable: listing the dashboard's own agents", "error", err, "request_id", daemon.RequestID(r.Context()))
	}
	agents, err := s.Users.ListAgents(r.Context())
	if err != nil {
		return nil, err
	}
	if agents == nil {
		agents = []store.Agent{}
	}
	body := map[string]any{"agents": agents, "count": len(agents), "source": "dashboard"}
	if warning != "" {
		body["warning"] = warning
	}
	return jsonBody(body)
}

func jsonBody(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func (s *server) upsertAgent(w http.ResponseWriter, r *http.Request) {
	var a store.Agent
	if !serviceapi.DecodeJSON(w, r, &a) {
		return
	}
	a.ID = strings.TrimSpace(a.ID)
	if a.ID == "" || a.Name == "" {
		serviceapi.WriteError(w, http.StatusBadRequest, "id and name are required")
		return
	}
	if a.Status == "" {
		a.Status = "idle"
	}
	a.UpdatedAt = s.Now().UTC()
	if err := s.Users.UpsertAgent(r.Context(), a); err != nil {
		s.Logger.Error("upsert agent", "error", err)
		serviceapi.WriteError(w, http.StatusServiceUnavailable, "the database cannot be reached")
		return
	}
	s.agents.mu.Lock()
	s.agents.body = nil // the next list shows the change
	s.agents.mu.Unlock()
	s.audit(r, "agent_upsert", principalFrom(r.Context()).Username, "ok", a.ID)
	daemon.WriteJSON(w, http.StatusOK, a)
}

func (s *server) listUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.Users.ListUsers(r.Context())
	if err != nil {
		s.Logger.Error("list users", "error", err)
		serviceapi.WriteError(w, http.StatusServiceUnavailable, "the database cannot be reached")
		return
	}
	type userJSON struct {
		Username  string    `json:"username"`
		Role      string    `json:"role"`
		MFA       bool      `json:"mfa"`
		CreatedAt time.Time `json:"created_at"`
	}
	out := make([]userJSON, 0, len(users))
	for _, u := range users {
		out = append(out, userJSON{u.Username, u.Role, u.TOTPSecret != "", u.CreatedAt})
	}
	daemon.WriteJSON(w, http.StatusOK, map[string]any{"users": out})
}

func (s *server) complianceStatus(w http.ResponseWriter, r *http.Request) {
	daemon.WriteJSON(w, http.StatusOK, compliance.Evaluate(s.Config, s.Audit != nil, s.Now()))
}
