package services_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/services/daemontest"
	"github.com/tars-ops/tarsctl/internal/state"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/internal/testenv"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// endpoint is one route of a daemon's API; body is a valid body for it.
type endpoint struct {
	method, path, body string
}

// conformanceFixture is what the conformance test needs of one daemon.
type conformanceFixture struct {
	// start runs the daemon with cfg; started holds the daemons the
	// catalog lists before it, already running.
	start func(t *testing.T, cfg *config.Config, started map[string]*running) *running
	// viewer is an endpoint a viewer may call (GET).
	viewer endpoint
	// operator is an endpoint that needs the operator role and takes a
	// JSON body: the wrong-role case and every body case go to it.
	operator endpoint
	// admin is an endpoint only an admin may call, for a daemon that has
	// one (orchestration-agent and hypersync have none).
	admin *endpoint
}

// conformanceFixtures has one entry per daemon of the catalog, keyed by
// its name: a daemon added to the catalog without one fails
// TestConformanceCoversCatalog.
var conformanceFixtures = map[string]conformanceFixture{
	services.DashboardAPI: {
		start: func(t *testing.T, cfg *config.Config, _ map[string]*running) *running {
			return startDashboard(t, cfg, nil)
		},
		viewer:   endpoint{"GET", "/api/me", ""},
		operator: endpoint{"POST", "/api/agents", `{"id":"conformance-1","name":"conformance"}`},
		admin:    &endpoint{"GET", "/api/users", ""},
	},
	services.OrchestrationAgent: {
		start: func(t *testing.T, cfg *config.Config, _ map[string]*running) *running {
			return startOrchestrator(t, cfg, nil)
		},
		viewer:   endpoint{"GET", "/api/agents", ""},
		operator: endpoint{"POST", "/api/agents/conformance-1/train", `{"episodes":1,"seed":1}`},
	},
	services.HyperSync: {
		start: func(t *testing.T, cfg *config.Config, started map[string]*running) *running {
			orch := started[services.OrchestrationAgent]
			if orch == nil {
				t.Fatal("hypersync is listed before the orchestration agent it applies syncs to")
			}
			return startHyperSync(t, cfg, orch.URL)
		},
		viewer:   endpoint{"GET", "/api/sync", ""},
		operator: endpoint{"POST", "/api/sync", `{"agent_id":"conformance-1","hyperparameters":{"learning_rate":0.5}}`},
	},
}

func TestConformanceCoversCatalog(t *testing.T) {
	t.Parallel()
	names := services.Names()
	for _, name := range names {
		if _, ok := conformanceFixtures[name]; !ok {
			t.Errorf("daemon %s is in the catalog but has no conformance fixture: add one to conformanceFixtures", name)
		}
	}
	for name := range conformanceFixtures {
		if !slices.Contains(names, name) {
			t.Errorf("conformance fixture %s names no daemon of the catalog", name)
		}
	}
}

// conformanceCase is one request every daemon must answer alike.
type conformanceCase struct {
	name string
	// operator: send to the fixture's operator endpoint; admin: to its
	// admin endpoint, on the daemons that have one; else to its viewer
	// endpoint.
	operator, admin bool
	// authz is the Authorization header; contentType ("-" for none) and
	// body replace the endpoint's JSON body when set.
	authz       string
	contentType string
	body        *string
	want        int
	wantBody    *client.ErrorBody // nil: a success, whose body differs by daemon
}

// TestConformance runs the same requests against every daemon of the
// catalog, each started for real on 127.0.0.1 with one Redis shared by
// all of them as in production: no token, malformed Authorization
// headers, forged tokens, a role too low, a token revoked in the shared
// state store, and each kind of malformed body. Every daemon must answer
// each with the same status code and the same error body.
func TestConformance(t *testing.T) {
	t.Parallel()
	rs := testenv.SharedRedis(t)
	cfg := testConfig(t, func(c *config.Config) {
		c.Redis.Enabled, c.Redis.Mode, c.Redis.Host, c.Redis.Port, c.Redis.Password = true, config.RedisStandalone, "127.0.0.1", rs.Port, ""
		// dashboard-api's rate limiter on, so that its fast path (rate
		// limit and revocation in one round trip) is what is tested.
		c.RateLimiting.Enabled = true
		c.RateLimiting.RequestsPerMinute = 1_000_000_000
		c.RateLimiting.GlobalRequestsPerMinute = 0
		c.LogLevel = "WARNING"
	})
	started := map[string]*running{}
	for _, name := range services.Names() {
		fx, ok := conformanceFixtures[name]
		if !ok {
			t.Fatalf("no conformance fixture for %s", name)
		}
		started[name] = fx.start(t, cfg, started)
	}

	viewer, operator := token(t, "vera", store.RoleViewer), token(t, "otto", store.RoleOperator)
	other, _ := auth.NewSigner([]byte("not-the-shared-secret-not-the-shared"), time.Hour, nil)
	wrongKey, _, _ := other.Issue("mallory", store.RoleAdmin)
	past, _ := auth.NewSigner(testSecret, time.Hour, func() time.Time { return time.Now().Add(-2 * time.Hour) })
	expired, _, _ := past.Issue("otto", store.RoleOperator)
	parts := strings.Split(operator, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	adminPayload := base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte(`"operator"`), []byte(`"admin"`), 1))
	algNone := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + adminPayload + "."
	tampered := parts[0] + "." + adminPayload + "." + parts[2]
	unknownRole := token(t, "eve", "superuser")

	// Revoked the way a logout at dashboard-api revokes: in the state
	// store all daemons share.
	revokedSigner, _ := auth.NewSigner(testSecret, time.Hour, nil)
	revoked, claims, _ := revokedSigner.Issue("leaver", store.RoleOperator)
	st, err := state.OpenRedis(t.Context(), cfg.Redis, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.RevokeToken(t.Context(), claims.ID, time.Hour); err != nil {
		t.Fatal(err)
	}

	unauthorized := &client.ErrorBody{Error: "Unauthorized", Message: "Invalid or expired token"}
	badRequest := func(msg string) *client.ErrorBody { return &client.ErrorBody{Error: "Bad Request", Message: msg} }
	opBearer := "Bearer " + operator
	cases := []conformanceCase{
		{name: "viewer may read", authz: "Bearer " + viewer, want: 200},
		{name: "admin may administer", admin: true, authz: "Bearer " + token(t, "ada", store.RoleAdmin), want: 200},
		{name: "operator may act", operator: true, authz: opBearer, want: 0},

		{name: "no token", want: 401, wantBody: unauthorized},
		{name: "no token on an operator endpoint", operator: true, want: 401, wantBody: unauthorized},
		{name: "basic auth", authz: "Basic b3R0bzpwYXNzd29yZA==", want: 401, wantBody: unauthorized},
		{name: "bearer without a token", authz: "Bearer ", want: 401, wantBody: unauthorized},
		{name: "token without a scheme", authz: operator, want: 401, wantBody: unauthorized},
		{name: "not a JWT", authz: "Bearer not.a.jwt", want: 401, wantBody: unauthorized},
		{name: "forged: wrong key", authz: "Bearer " + wrongKey, want: 401, wantBody: unauthorized},
		{name: "forged: alg none", authz: "Bearer " + algNone, want: 401, wantBody: unauthorized},
		{name: "forged: expired", authz: "Bearer " + expired, want: 401, wantBody: unauthorized},
		{name: "forged: tampered payload", authz: "Bearer " + tampered, want: 401, wantBody: unauthorized},
		{name: "revoked token", authz: "Bearer " + revoked, want: 401, wantBody: unauthorized},
		{name: "revoked token on an operator endpoint", operator: true, authz: "Bearer " + revoked, want: 401, wantBody: unauthorized},

		{name: "wrong role: viewer on an operator endpoint", operator: true, authz: "Bearer " + viewer, want: 403,
			wantBody: &client.ErrorBody{Error: "Forbidden", Message: "role viewer may not do this: it needs operator"}},
		{name: "wrong role: operator on an admin endpoint", admin: true, authz: opBearer, want: 403,
			wantBody: &client.ErrorBody{Error: "Forbidden", Message: "role operator may not do this: it needs admin"}},
		{name: "unknown role", authz: "Bearer " + unknownRole, want: 403,
			wantBody: &client.ErrorBody{Error: "Forbidden", Message: "role superuser may not do this: it needs viewer"}},

		{name: "body: wrong content type", operator: true, authz: opBearer, contentType: "text/plain", want: 415,
			wantBody: &client.ErrorBody{Error: "Unsupported Media Type", Message: `Content-Type must be application/json, not "text/plain"`}},
		{name: "body: no content type", operator: true, authz: opBearer, contentType: "-", want: 415,
			wantBody: &client.ErrorBody{Error: "Unsupported Media Type", Message: "Content-Type must be application/json: the request has none"}},
		{name: "body: too large", operator: true, authz: opBearer, body: ptr(`{"pad":"` + strings.Repeat("x", 70_000) + `"}`), want: 413,
			wantBody: &client.ErrorBody{Error: "Request Entity Too Large", Message: "request body is larger than 65536 bytes"}},
		{name: "body: unknown field", operator: true, authz: opBearer, body: ptr(`{"conformance_bogus":1}`), want: 400,
			wantBody: badRequest(`request body: unknown field "conformance_bogus"`)},
		{name: "body: trailing data", operator: true, authz: opBearer, body: ptr(`{} {}`), want: 400,
			wantBody: badRequest("request body has data after the JSON object")},
		{name: "body: NUL byte", operator: true, authz: opBearer, body: ptr("{}\x00"), want: 400,
			wantBody: badRequest("request body holds a NUL byte")},
		{name: "body: escaped NUL", operator: true, authz: opBearer, body: ptr(`{"x":"\u0000"}`), want: 400,
			wantBody: badRequest(`request body holds a NUL character (\u0000)`)},
		{name: "body: invalid UTF-8", operator: true, authz: opBearer, body: ptr("{\"x\":\"\xff\xfe\"}"), want: 400,
			wantBody: badRequest("request body is not valid UTF-8")},
		{name: "body: empty", operator: true, authz: opBearer, body: ptr(""), want: 400,
			wantBody: badRequest("request body is empty: send a JSON object")},
		{name: "body: not an object", operator: true, authz: opBearer, body: ptr(`[1]`), want: 400,
			wantBody: badRequest("request body must be a JSON object")},
		{name: "body: not JSON", operator: true, authz: opBearer, body: ptr(`{"x":}`), want: 400,
			wantBody: badRequest("request body is not valid JSON: invalid character '}' looking for beginning of value (at byte 6)")},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bodies := map[string]string{}
			sent := 0
			for _, name := range services.Names() {
				fx := conformanceFixtures[name]
				ep := fx.viewer
				switch {
				case tc.operator:
					ep = fx.operator
				case tc.admin && fx.admin == nil:
					continue
				case tc.admin:
					ep = *fx.admin
				}
				r := send(t, started[name].URL, ep, tc)
				sent++
				switch {
				case tc.want == 0 && (r.Code < 200 || r.Code > 299):
					t.Errorf("%s: %s %s: %d %s, want 2xx", name, ep.method, ep.path, r.Code, r.Raw)
					continue
				case tc.want != 0 && r.Code != tc.want:
					t.Errorf("%s: %s %s: %d %s, want %d", name, ep.method, ep.path, r.Code, r.Raw, tc.want)
					continue
				case tc.wantBody == nil:
					continue
				}
				var got client.ErrorBody
				dec := json.NewDecoder(strings.NewReader(r.Raw))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&got); err != nil || got != *tc.wantBody {
					t.Errorf("%s: %s %s: body %s, want %+v", name, ep.method, ep.path, r.Raw, *tc.wantBody)
				}
				if ct := r.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("%s: error answer with Content-Type %q", name, ct)
				}
				if tc.want == 401 && r.Header.Get("WWW-Authenticate") != `Bearer realm="tars"` {
					t.Errorf("%s: 401 with WWW-Authenticate %q", name, r.Header.Get("WWW-Authenticate"))
				}
				bodies[name] = r.Raw
			}
			if sent == 0 {
				t.Fatal("no daemon has an endpoint for this case")
			}
			// The same bytes from each, not only the same fields.
			var first string
			for _, name := range services.Names() {
				if b, ok := bodies[name]; ok {
					if first == "" {
						first = b
					} else if b != first {
						t.Errorf("%s answered %q, another daemon %q", name, b, first)
					}
				}
			}
		})
	}
}

// send makes the case's request to ep on the daemon at baseURL.
func send(t *testing.T, baseURL string, ep endpoint, tc conformanceCase) daemontest.Response {
	t.Helper()
	body := ep.body
	if tc.body != nil {
		body = *tc.body
	}
	req, err := http.NewRequest(ep.method, baseURL+ep.path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ep.method == "GET" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	switch tc.contentType {
	case "":
		if ep.method != "GET" {
			req.Header.Set("Content-Type", "application/json")
		}
	case "-":
	default:
		req.Header.Set("Content-Type", tc.contentType)
	}
	if tc.authz != "" {
		req.Header.Set("Authorization", tc.authz)
	}
	return daemontest.Send(t, req)
}
