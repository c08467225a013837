package serviceapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/services/daemontest"
	"github.com/tars-ops/tarsctl/internal/state"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/pkg/client"
)

var testSecret = []byte("serviceapi-test-secret-0123456789abcdef")

func testSigner(t testing.TB) *auth.Signer {
	t.Helper()
	s, err := auth.NewSigner(testSecret, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func issue(t testing.TB, s *auth.Signer, user, role string) (string, auth.Claims) {
	t.Helper()
	tok, c, err := s.Issue(user, role)
	if err != nil {
		t.Fatal(err)
	}
	return tok, c
}

func TestRoleRank(t *testing.T) {
	t.Parallel()
	if !(RoleRank(store.RoleViewer) < RoleRank(store.RoleOperator) && RoleRank(store.RoleOperator) < RoleRank(store.RoleAdmin)) || RoleRank(store.RoleViewer) < 1 {
		t.Errorf("ranks viewer %d, operator %d, admin %d", RoleRank(store.RoleViewer), RoleRank(store.RoleOperator), RoleRank(store.RoleAdmin))
	}
	for _, tc := range []struct {
		role, min string
		want      bool
	}{
		{store.RoleAdmin, store.RoleViewer, true},
		{store.RoleAdmin, store.RoleAdmin, true},
		{store.RoleOperator, store.RoleOperator, true},
		{store.RoleOperator, store.RoleAdmin, false},
		{store.RoleViewer, store.RoleOperator, false},
		{"", store.RoleViewer, false},
		{"superuser", store.RoleViewer, false},
		{"Admin", store.RoleViewer, false},
		{store.RoleAdmin, "adminn", false},
	} {
		if got := RoleAtLeast(tc.role, tc.min); got != tc.want {
			t.Errorf("RoleAtLeast(%q, %q) = %v", tc.role, tc.min, got)
		}
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	for h, want := range map[string]string{
		"Bearer abc":   "abc",
		"bearer abc":   "abc",
		"BEARER  abc ": "abc",
		"Bearer":       "",
		"Bearer ":      "",
		"Basic abc":    "",
		"abc":          "",
		"":             "",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", h)
		got, ok := BearerToken(r)
		if got != want || ok != (want != "") {
			t.Errorf("BearerToken(%q) = %q, %v", h, got, ok)
		}
	}
}

// denials records what OnDenied was told.
type denials struct {
	mu sync.Mutex
	d  []Denial
}

func (d *denials) add(_ *http.Request, x Denial) { d.mu.Lock(); d.d = append(d.d, x); d.mu.Unlock() }

func (d *denials) last() Denial {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.d) == 0 {
		return Denial{}
	}
	return d.d[len(d.d)-1]
}

// serve sends one request through a.Require(min, …) and returns the
// answer, and the principal the handler saw.
func serve(t *testing.T, a *Authenticator, min, authz string, ctx context.Context) (*httptest.ResponseRecorder, Principal) {
	t.Helper()
	var seen Principal
	h := a.Require(min, func(w http.ResponseWriter, r *http.Request) {
		p, ok := PrincipalFrom(r.Context())
		if !ok {
			t.Error("no principal in the handler's context")
		}
		seen = p
		w.WriteHeader(http.StatusNoContent)
	})
	r := httptest.NewRequest("GET", "/x", nil)
	if ctx != nil {
		r = r.WithContext(ctx)
	}
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w, seen
}

func wantError(t *testing.T, w *httptest.ResponseRecorder, code int, msg string) {
	t.Helper()
	var eb client.ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || w.Code != code || eb.Error != http.StatusText(code) || eb.Message != msg {
		t.Errorf("got %d %s, want %d with message %q", w.Code, w.Body, code, msg)
	}
	if code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") != `Bearer realm="tars"` {
		t.Errorf("401 without WWW-Authenticate: %v", w.Header())
	}
}

func TestRequire(t *testing.T) {
	t.Parallel()
	signer := testSigner(t)
	st := state.NewMemory(time.Now)
	t.Cleanup(func() { st.Close() })
	logs := &daemontest.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	var seen denials
	a, err := NewAuthenticator(AuthOptions{Enabled: true, RBAC: true, Signer: signer, Revocations: st, Logger: log, OnDenied: seen.add})
	if err != nil {
		t.Fatal(err)
	}
	viewer, vc := issue(t, signer, "vera", store.RoleViewer)
	operator, _ := issue(t, signer, "otto", store.RoleOperator)
	odd, _ := issue(t, signer, "odd", "superuser")

	w, p := serve(t, a, store.RoleViewer, "Bearer "+viewer, nil)
	if w.Code != http.StatusNoContent || p.Username != "vera" || p.Role != store.RoleViewer || p.TokenID != vc.ID || !p.Expires.Equal(vc.Expires) {
		t.Errorf("viewer on a viewer endpoint: %d, principal %+v", w.Code, p)
	}
	if w, _ := serve(t, a, store.RoleViewer, "Bearer "+operator, nil); w.Code != http.StatusNoContent {
		t.Errorf("operator on a viewer endpoint: %d", w.Code)
	}

	w, _ = serve(t, a, store.RoleOperator, "Bearer "+viewer, nil)
	wantError(t, w, http.StatusForbidden, "role viewer may not do this: it needs operator")
	if d := seen.last(); d.Status != 403 || d.Username != "vera" || d.Role != "viewer" || d.Needs != "operator" {
		t.Errorf("OnDenied got %+v", d)
	}
	w, _ = serve(t, a, store.RoleViewer, "Bearer "+odd, nil)
	wantError(t, w, http.StatusForbidden, "role superuser may not do this: it needs viewer")

	for name, authz := range map[string]string{
		"no header":    "",
		"basic":        "Basic dmVyYTpwYXNz",
		"empty bearer": "Bearer ",
		"garbage":      "Bearer not-a-jwt",
		"other secret": "Bearer " + func() string {
			other, _ := auth.NewSigner([]byte("another-secret-another-secret-another"), time.Hour, nil)
			tok, _ := issue(t, other, "vera", store.RoleAdmin)
			return tok
		}(),
	} {
		w, _ := serve(t, a, store.RoleViewer, authz, nil)
		wantError(t, w, http.StatusUnauthorized, "Invalid or expired token")
		secret := strings.TrimSpace(strings.TrimPrefix(authz, "Bearer "))
		if d := seen.last(); d.Status != 401 || d.Reason == "" || (secret != "" && strings.Contains(d.Reason, secret)) {
			t.Errorf("%s: OnDenied got %+v", name, d)
		}
	}

	// Revoked: refused at once.
	if err := st.RevokeToken(t.Context(), vc.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	w, _ = serve(t, a, store.RoleViewer, "Bearer "+viewer, nil)
	wantError(t, w, http.StatusUnauthorized, "Invalid or expired token")
	if d := seen.last(); d.Reason != "token revoked" {
		t.Errorf("revoked: reason %q", d.Reason)
	}

	if strings.Contains(logs.String(), viewer) || !strings.Contains(logs.String(), "authentication failed") || !strings.Contains(logs.String(), "access denied") {
		t.Errorf("logs:\n%s", logs.String())
	}
}

// A revocation list that cannot be read refuses the request (fail closed);
// a token a middleware already checked is not asked about again.
func TestRequireRevocationsUnreachable(t *testing.T) {
	t.Parallel()
	signer := testSigner(t)
	st := state.NewMemory(time.Now)
	st.Close() // every call now fails
	var seen denials
	a, _ := NewAuthenticator(AuthOptions{Enabled: true, RBAC: true, Signer: signer, Revocations: st, OnDenied: seen.add})
	tok, c := issue(t, signer, "vera", store.RoleViewer)

	w, _ := serve(t, a, store.RoleViewer, "Bearer "+tok, nil)
	wantError(t, w, http.StatusUnauthorized, "Invalid or expired token")
	if d := seen.last(); !strings.Contains(d.Reason, "revocation") {
		t.Errorf("reason %q", d.Reason)
	}

	checked := WithCheckedToken(context.Background(), tok, c, false)
	if w, p := serve(t, a, store.RoleViewer, "Bearer "+tok, checked); w.Code != http.StatusNoContent || p.Username != "vera" {
		t.Errorf("pre-checked token: %d %s", w.Code, w.Body)
	}
	revoked := WithCheckedToken(context.Background(), tok, c, true)
	if w, _ := serve(t, a, store.RoleViewer, "Bearer "+tok, revoked); w.Code != http.StatusUnauthorized {
		t.Errorf("pre-checked revoked token: %d", w.Code)
	}
	// The answer is for one token only: another one is checked in full.
	other, _ := issue(t, signer, "otto", store.RoleOperator)
	if w, _ := serve(t, a, store.RoleViewer, "Bearer "+other, checked); w.Code != http.StatusUnauthorized {
		t.Errorf("another token with a pre-checked one in the context: %d", w.Code)
	}
}

func TestRequireModes(t *testing.T) {
	t.Parallel()
	signer := testSigner(t)
	viewer, _ := issue(t, signer, "vera", store.RoleViewer)

	off, _ := NewAuthenticator(AuthOptions{Enabled: false})
	if w, p := serve(t, off, store.RoleAdmin, "", nil); w.Code != http.StatusNoContent || p.Username != "anonymous" || p.Role != store.RoleAdmin {
		t.Errorf("auth off: %d %+v", w.Code, p)
	}
	noRBAC, _ := NewAuthenticator(AuthOptions{Enabled: true, RBAC: false, Signer: signer})
	if w, _ := serve(t, noRBAC, store.RoleAdmin, "Bearer "+viewer, nil); w.Code != http.StatusNoContent {
		t.Errorf("RBAC off, viewer on an admin endpoint: %d", w.Code)
	}
	if w, _ := serve(t, noRBAC, store.RoleViewer, "", nil); w.Code != http.StatusUnauthorized {
		t.Errorf("RBAC off, no token: %d", w.Code)
	}
	if _, err := NewAuthenticator(AuthOptions{Enabled: true}); err == nil {
		t.Error("auth enabled without a signer was accepted")
	}
	defer func() {
		if recover() == nil {
			t.Error("Require with an unknown role did not panic")
		}
	}()
	off.Require("root", func(http.ResponseWriter, *http.Request) {})
}

// The verified-token cache keeps a token good only as long as it is: an
// expired token is refused although it was verified before.
func TestVerifyCacheHonoursExpiry(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	signer, _ := auth.NewSigner(testSecret, time.Minute, clock)
	a, _ := NewAuthenticator(AuthOptions{Enabled: true, RBAC: true, Signer: signer, Now: clock})
	tok, _ := issue(t, signer, "vera", store.RoleViewer)
	if _, err := a.Verify(tok); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if _, err := a.Verify(tok); err == nil {
		t.Error("an expired token verified from the cache")
	}
}
