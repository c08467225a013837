package dashboardapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tars-ops/tarsctl/internal/audit"
	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/compliance"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/state"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var testSecret = []byte("test-secret-test-secret-test-secret!")

// backend is one combination of stores the API runs on.
type backend struct {
	name  string
	users func(t *testing.T) *store.DB
	state func(t *testing.T) state.Store
}

var backends = []backend{
	{
		name: "sqlite+embedded",
		users: func(t *testing.T) *store.DB {
			return openDB(t, store.Options{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "tars.db")})
		},
		state: func(t *testing.T) state.Store {
			s := state.NewMemory(time.Now)
			t.Cleanup(func() { s.Close() })
			return s
		},
	},
	{
		name: "postgres+redis",
		users: func(t *testing.T) *store.DB {
			pg := testenv.SharedPostgres(t)
			return openDB(t, store.Options{Driver: "postgres", URL: pg.URL(pg.CreateDB(t))})
		},
		state: func(t *testing.T) state.Store { return redisState(t) },
	},
}

func openDB(t *testing.T, o store.Options) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// redisState returns a store on the shared Redis, in a database of its own
// so tests do not see each other's counters.
func redisState(t *testing.T) state.Store {
	t.Helper()
	rs := testenv.SharedRedis(t)
	c := redis.NewClient(&redis.Options{Addr: rs.Addr, DB: nextRedisDB()})
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	s := state.NewRedis(c)
	t.Cleanup(func() { s.Close() })
	return s
}

var redisDB atomic.Int32

func nextRedisDB() int { return int(redisDB.Add(1) % 16) }

type api struct {
	url    string
	cfg    *config.Config
	users  *store.DB
	state  state.Store
	now    *clock
	audit  string
	signer *auth.Signer
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func testConfig(t *testing.T, mutate func(*config.Config)) *config.Config {
	t.Helper()
	res, err := config.Load(config.LoadOptions{Profile: "local", Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := res.Config
	cfg.Auth.Enabled, cfg.Auth.RBAC = true, true
	cfg.RateLimiting.RequestsPerMinute = 10_000
	cfg.RateLimiting.LoginRequestsPerMinute = 1_000
	cfg.Paths.Home = t.TempDir()
	if mutate != nil {
		mutate(cfg)
	}
	return cfg
}

func newAPI(t *testing.T, b backend, mutate func(*config.Config)) *api {
	t.Helper()
	a := &api{cfg: testConfig(t, mutate), users: b.users(t), state: b.state(t), now: &clock{t: time.Now()}}
	signer, err := auth.NewSigner(testSecret, time.Duration(a.cfg.Auth.JWTExpiry)*time.Second, a.now.Now)
	if err != nil {
		t.Fatal(err)
	}
	a.signer = signer
	a.audit = filepath.Join(t.TempDir(), "audit.log")
	audit, err := audit.Open(a.audit, func(err error) { t.Errorf("audit: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { audit.Close() })
	h, err := New(Options{Config: a.cfg, Users: a.users, State: a.state, Signer: signer, CheckPassword: store.CheckPassword,
		Audit: audit, Registry: prometheus.NewRegistry(), Now: a.now.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

func (a *api) addUser(t *testing.T, name, role, password string) {
	t.Helper()
	hash, err := store.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.users.CreateUser(context.Background(), store.User{Username: name, PasswordHash: hash, Role: role}); err != nil {
		t.Fatal(err)
	}
}

type response struct {
	code   int
	header http.Header
	body   map[string]any
	raw    string
}

func (a *api) do(t *testing.T, method, path, token string, body any) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.url+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return send(t, req)
}

// doRaw sends body as it is, with contentType when not empty.
func (a *api) doRaw(t *testing.T, method, path, contentType, body string) response {
	t.Helper()
	req, _ := http.NewRequest(method, a.url+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return send(t, req)
}

func send(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{code: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (a *api) login(t *testing.T, user, password string) TokenResponse {
	t.Helper()
	r := a.do(t, "POST", "/auth/login", "", map[string]string{"username": user, "password": password})
	if r.code != 200 {
		t.Fatalf("login %s: %d %s", user, r.code, r.raw)
	}
	var tr TokenResponse
	_ = json.Unmarshal([]byte(r.raw), &tr)
	return tr
}

func wantUnauthorized(t *testing.T, r response, what string) {
	t.Helper()
	if r.code != 401 || r.body["error"] != "Unauthorized" || r.body["message"] != "Invalid or expired token" {
		t.Errorf("%s: %d %s, want 401 with the runbook's body", what, r.code, r.raw)
	}
}

func forBackends(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

func TestLoginAndRBAC(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		a := newAPI(t, b, nil)
		a.addUser(t, "vera", store.RoleViewer, "viewer-password-1")
		a.addUser(t, "otto", store.RoleOperator, "operator-password-1")
		a.addUser(t, "ada", store.RoleAdmin, "admin-password-123")

		if r := a.do(t, "POST", "/auth/login", "", map[string]string{"username": "vera", "password": "wrong-password"}); r.code != 401 || r.body["message"] != "Invalid username or password" {
			t.Errorf("wrong password: %d %s", r.code, r.raw)
		}
		if r := a.do(t, "POST", "/auth/login", "", map[string]string{"username": "nobody", "password": "whatever-pass"}); r.code != 401 || r.body["message"] != "Invalid username or password" {
			t.Errorf("unknown user: %d %s", r.code, r.raw)
		}
		if r := a.do(t, "POST", "/auth/login", "", map[string]string{"username": "vera"}); r.code != 400 {
			t.Errorf("missing password: %d %s", r.code, r.raw)
		}
		// Bodies are read strictly: an empty one (accepted before the
		// daemons shared one decoder), an unknown field, or no
		// Content-Type are refused before any password is checked.
		if r := a.doRaw(t, "POST", "/auth/login", "application/json", ""); r.code != 400 || r.body["message"] != "request body is empty: send a JSON object" {
			t.Errorf("empty login body: %d %s", r.code, r.raw)
		}
		if r := a.do(t, "POST", "/auth/login", "", map[string]string{"username": "vera", "password": "viewer-password-1", "otp": "1"}); r.code != 400 {
			t.Errorf("unknown login field: %d %s", r.code, r.raw)
		}
		if r := a.doRaw(t, "POST", "/auth/login", "", `{"username":"vera","password":"viewer-password-1"}`); r.code != 415 {
			t.Errorf("login without a Content-Type: %d %s", r.code, r.raw)
		}

		viewer := a.login(t, "vera", "viewer-password-1")
		operator := a.login(t, "otto", "operator-password-1")
		admin := a.login(t, "ada", "admin-password-123")
		if viewer.TokenType != "Bearer" || viewer.ExpiresIn != 3600 || viewer.Role != "viewer" || viewer.RefreshToken == "" {
			t.Errorf("token response = %+v", viewer)
		}

		wantUnauthorized(t, a.do(t, "GET", "/api/agents", "", nil), "no token")
		wantUnauthorized(t, a.do(t, "GET", "/api/agents", "garbage", nil), "garbage token")

		if r := a.do(t, "GET", "/api/agents", viewer.AccessToken, nil); r.code != 200 || r.body["count"] != float64(0) {
			t.Errorf("viewer GET /api/agents: %d %s", r.code, r.raw)
		}
		agent := map[string]any{"id": "dqn-1", "name": "DQN agent", "type": "dqn"}
		if r := a.do(t, "POST", "/api/agents", viewer.AccessToken, agent); r.code != 403 || r.body["error"] != "Forbidden" {
			t.Errorf("viewer POST /api/agents: %d %s, want 403", r.code, r.raw)
		}
		if r := a.do(t, "POST", "/api/agents", operator.AccessToken, agent); r.code != 200 {
			t.Errorf("operator POST /api/agents: %d %s", r.code, r.raw)
		}
		if r := a.do(t, "GET", "/api/agents", viewer.AccessToken, nil); r.code != 200 || r.body["count"] != float64(1) {
			t.Errorf("agents after upsert: %d %s", r.code, r.raw)
		}
		if r := a.do(t, "GET", "/api/users", operator.AccessToken, nil); r.code != 403 {
			t.Errorf("operator GET /api/users: %d, want 403", r.code)
		}
		if r := a.do(t, "GET", "/api/users", admin.AccessToken, nil); r.code != 200 || !strings.Contains(r.raw, `"username":"vera"`) || strings.Contains(r.raw, "argon2") {
			t.Errorf("admin GET /api/users: %d %s", r.code, r.raw)
		}
		if r := a.do(t, "GET", "/api/me", operator.AccessToken, nil); r.body["username"] != "otto" || r.body["role"] != "operator" {
			t.Errorf("/api/me = %s", r.raw)
		}

		logs, _ := os.ReadFile(a.audit)
		for _, want := range []string{`"event":"login_success","username":"vera"`, `"event":"login_failure","username":"vera"`, `"event":"access_denied"`} {
			if !strings.Contains(string(logs), want) {
				t.Errorf("audit log lacks %s:\n%s", want, logs)
			}
		}
		if strings.Contains(string(logs), "viewer-password-1") || strings.Contains(string(logs), viewer.AccessToken) {
			t.Error("audit log holds a password or token")
		}
	})
}

func TestRejectedTokens(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		a := newAPI(t, b, nil)
		a.addUser(t, "vera", store.RoleViewer, "viewer-password-1")
		tok := a.login(t, "vera", "viewer-password-1").AccessToken
		parts := strings.Split(tok, ".")

		none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
		other, _ := auth.NewSigner([]byte("a-different-secret-a-different-secret"), time.Hour, a.now.Now)
		foreign, _, _ := other.Issue("vera", "admin")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte(`"viewer"`), []byte(`"admin"`), 1)) + "." + parts[2]

		wantUnauthorized(t, a.do(t, "GET", "/api/users", none, nil), "alg none")
		wantUnauthorized(t, a.do(t, "GET", "/api/users", foreign, nil), "other secret")
		wantUnauthorized(t, a.do(t, "GET", "/api/users", tampered, nil), "tampered payload")

		a.now.Add(time.Hour + time.Minute)
		wantUnauthorized(t, a.do(t, "GET", "/api/agents", tok, nil), "expired token")
	})
}

func TestRefreshRotationReuseAndLogout(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		a := newAPI(t, b, nil)
		a.addUser(t, "otto", store.RoleOperator, "operator-password-1")
		first := a.login(t, "otto", "operator-password-1")

		r := a.do(t, "POST", "/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken})
		if r.code != 200 {
			t.Fatalf("refresh: %d %s", r.code, r.raw)
		}
		second := r.body["refresh_token"].(string)
		if second == first.RefreshToken {
			t.Fatal("refresh did not rotate the refresh token")
		}
		access2 := r.body["access_token"].(string)

		// The spent token comes back: the family is revoked, so the
		// rotated token dies too.
		if r := a.do(t, "POST", "/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}); r.code != 401 {
			t.Errorf("reuse of a spent token: %d %s, want 401", r.code, r.raw)
		}
		if r := a.do(t, "POST", "/auth/refresh", "", map[string]string{"refresh_token": second}); r.code != 401 {
			t.Errorf("rotated token after reuse detection: %d %s, want 401", r.code, r.raw)
		}
		logs, _ := os.ReadFile(a.audit)
		if !strings.Contains(string(logs), `"event":"refresh_reuse_detected"`) {
			t.Errorf("audit log lacks the reuse:\n%s", logs)
		}

		// Logout revokes the access token and the refresh family.
		fresh := a.login(t, "otto", "operator-password-1")
		if r := a.do(t, "POST", "/auth/logout", fresh.AccessToken, map[string]string{"refresh_token": fresh.RefreshToken}); r.code != 200 {
			t.Fatalf("logout: %d %s", r.code, r.raw)
		}
		wantUnauthorized(t, a.do(t, "GET", "/api/agents", fresh.AccessToken, nil), "token after logout")
		if r := a.do(t, "POST", "/auth/refresh", "", map[string]string{"refresh_token": fresh.RefreshToken}); r.code != 401 {
			t.Errorf("refresh after logout: %d, want 401", r.code)
		}
		if r := a.do(t, "GET", "/api/agents", access2, nil); r.code != 200 {
			t.Errorf("an unrelated access token stopped working: %d", r.code)
		}
		// Logout's body is optional: none at all still revokes the token.
		bare := a.login(t, "otto", "operator-password-1")
		if r := a.do(t, "POST", "/auth/logout", bare.AccessToken, nil); r.code != 200 {
			t.Fatalf("logout without a body: %d %s", r.code, r.raw)
		}
		wantUnauthorized(t, a.do(t, "GET", "/api/agents", bare.AccessToken, nil), "token after a logout without a body")
		if r := a.do(t, "POST", "/auth/refresh", "", map[string]string{"refresh_token": "made-up"}); r.code != 401 {
			t.Errorf("unknown refresh token: %d", r.code)
		}
	})
}

func TestMFA(t *testing.T) {
	t.Parallel()
	a := newAPI(t, backends[0], func(c *config.Config) { c.Auth.RequireMFA = true })
	a.addUser(t, "nomfa", store.RoleViewer, "viewer-password-1")
	hash, _ := store.HashPassword("admin-password-123")
	secret := auth.NewTOTPSecret()
	if err := a.users.CreateUser(context.Background(), store.User{Username: "ada", PasswordHash: hash, Role: store.RoleAdmin, TOTPSecret: secret}); err != nil {
		t.Fatal(err)
	}
	if r := a.do(t, "POST", "/auth/login", "", map[string]string{"username": "ada", "password": "admin-password-123"}); r.code != 401 || r.body["mfa_required"] != true {
		t.Errorf("no code: %d %s", r.code, r.raw)
	}
	if r := a.do(t, "POST", "/auth/login", "", map[string]string{"username": "ada", "password": "admin-password-123", "totp": "000000"}); r.code != 401 {
		t.Errorf("wrong code: %d %s", r.code, r.raw)
	}
	code, _ := auth.TOTPCode(secret, a.now.Now())
	if r := a.do(t, "POST", "/auth/login", "", map[string]string{"username": "ada", "password": "admin-password-123", "totp": code}); r.code != 200 {
		t.Errorf("right code: %d %s", r.code, r.raw)
	}
	if r := a.do(t, "POST", "/auth/login", "", map[string]string{"username": "nomfa", "password": "viewer-password-1"}); r.code != 401 || !strings.Contains(r.raw, "no TOTP secret") {
		t.Errorf("user without a second factor: %d %s", r.code, r.raw)
	}
}

// TestRateLimitExactAcrossReplicas runs three API instances on one Redis
// and fires a concurrent burst: exactly the limit gets through.
func TestRateLimitExactAcrossReplicas(t *testing.T) {
	t.Parallel()
	const limit = 25
	rs := testenv.SharedRedis(t)
	db := nextRedisDB()
	flush := redis.NewClient(&redis.Options{Addr: rs.Addr, DB: db})
	if err := flush.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	flush.Close()
	users := backends[0].users(t)
	var replicas []*api
	for range 3 {
		st := state.NewRedis(redis.NewClient(&redis.Options{Addr: rs.Addr, DB: db}))
		t.Cleanup(func() { st.Close() })
		b := backend{users: func(*testing.T) *store.DB { return users }, state: func(*testing.T) state.Store { return st }}
		replicas = append(replicas, newAPI(t, b, func(c *config.Config) {
			c.Auth.Enabled = false
			c.RateLimiting.RequestsPerMinute = limit
		}))
	}
	var ok, limited atomic.Int32
	var retryAfter sync.Map
	var wg sync.WaitGroup
	for i := range 3 * limit {
		a := replicas[i%3]
		wg.Go(func() {
			resp, err := http.Get(a.url + "/api/agents")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			switch resp.StatusCode {
			case 200:
				ok.Add(1)
			case 429:
				limited.Add(1)
				ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
				retryAfter.Store(ra, body["retry_after"])
				if body["error"] != "Too Many Requests" {
					t.Errorf("429 body = %v", body)
				}
			default:
				t.Errorf("status %d", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if ok.Load() != limit || limited.Load() != 2*limit {
		t.Errorf("admitted %d and limited %d of %d; want exactly %d admitted", ok.Load(), limited.Load(), 3*limit, limit)
	}
	retryAfter.Range(func(k, v any) bool {
		ra := k.(int)
		if ra < 1 || ra > 60 || v != float64(ra) {
			t.Errorf("Retry-After %d (body %v), want 1..60 and equal in header and body", ra, v)
		}
		return true
	})
	// The window's remaining time is what Retry-After says.
	c := redis.NewClient(&redis.Options{Addr: rs.Addr, DB: db})
	defer c.Close()
	ttl, err := c.PTTL(context.Background(), "rate_limit:127.0.0.1").Result()
	if err != nil || ttl <= 0 {
		t.Fatalf("PTTL rate_limit:127.0.0.1 = %v, %v", ttl, err)
	}
	var maxRA int
	retryAfter.Range(func(k, _ any) bool { maxRA = max(maxRA, k.(int)); return true })
	if want := int((ttl + time.Second - 1) / time.Second); maxRA < want || maxRA > want+1 {
		t.Errorf("Retry-After %d, window has %s left", maxRA, ttl)
	}
	if n, err := c.Get(context.Background(), "rate_limit:127.0.0.1").Int(); err != nil || n < limit {
		t.Errorf("rate_limit:127.0.0.1 = %d (%v), want a plain counter of at least %d that redis-cli can read", n, err, limit)
	}
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	a := newAPI(t, backends[0], func(c *config.Config) { c.RateLimiting.LoginRequestsPerMinute = 3 })
	for i := range 5 {
		r := a.do(t, "POST", "/auth/login", "", map[string]string{"username": "x", "password": "wrong-wrong-wrong"})
		want := 401
		if i >= 3 {
			want = 429
		}
		if r.code != want {
			t.Errorf("attempt %d: %d, want %d", i+1, r.code, want)
		}
	}
}

func TestComplianceStatus(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "aes.key")
	if err := os.WriteFile(key, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := newAPI(t, backends[0], func(c *config.Config) {
		c.Auth.Enabled = false
		c.Compliance.EnforcementMode = "enforce"
		c.Compliance.Controls = []string{"encryption_at_rest", "encryption_in_transit", "audit_logging", "data_retention"}
		c.Encryption.Enabled, c.Encryption.KeyFile = true, key
		c.Compliance.DataRetentionDays = 90
	})
	r := a.do(t, "GET", "/api/compliance/status", "", nil)
	var rep compliance.Report
	if err := json.Unmarshal([]byte(r.raw), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range rep.Controls {
		got[c.Name] = c.Status
	}
	want := map[string]string{"encryption_at_rest": "pass", "encryption_in_transit": "fail", "audit_logging": "pass", "data_retention": "pass"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %s, want %s", k, got[k], v)
		}
	}
	if rep.Compliant || rep.EnforcementMode != "enforce" {
		t.Errorf("report = %+v", rep)
	}
	// A key file that is not an AES-256 key fails the control.
	if err := os.WriteFile(key, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = a.do(t, "GET", "/api/compliance/status", "", nil)
	if err := json.Unmarshal([]byte(r.raw), &rep); err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Controls {
		if c.Name == "encryption_at_rest" && c.Status != "fail" {
			t.Errorf("a 5-byte key: encryption_at_rest %s (%s), want fail", c.Status, c.Detail)
		}
	}
}

func TestAuthDisabledIsOpen(t *testing.T) {
	t.Parallel()
	a := newAPI(t, backends[0], func(c *config.Config) { c.Auth.Enabled = false })
	if r := a.do(t, "GET", "/api/users", "", nil); r.code != 200 {
		t.Errorf("auth disabled: %d %s", r.code, r.raw)
	}
	if r := a.do(t, "GET", "/nope", "", nil); r.code != 404 {
		t.Errorf("unknown path: %d", r.code)
	}
}
