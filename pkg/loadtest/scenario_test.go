package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const dashboardScenario = `# The runbook's dashboard load: 100 users on the dashboard API.
base_url: http://localhost:3001
headers:
  Accept: application/json
login:
  username: operator
  password: ${TARS_LOADTEST_PASSWORD}
requests:
  - name: list agents
    path: /api/agents
    weight: 3
  - name: compliance
    method: get
    path: /api/compliance/status?verbose=1
  - name: record event
    method: POST
    path: /api/events
    json: {kind: loadtest, user: "${USER:-nobody}"}
`

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseScenario(t *testing.T) {
	t.Parallel()
	s, err := ParseScenario([]byte(dashboardScenario), env(map[string]string{"TARS_LOADTEST_PASSWORD": "s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Login.Password != "s3cret" || s.Login.Path != DefaultLoginPath || s.Login.TokenField != DefaultTokenField {
		t.Errorf("login %+v", s.Login)
	}
	targets, err := s.Targets("http://127.0.0.1:9/base/", "tok")
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 3 {
		t.Fatalf("%d targets", len(targets))
	}
	list, comp, ev := targets[0], targets[1], targets[2]
	if list.URL != "http://127.0.0.1:9/base/api/agents" || list.Weight != 3 || list.Header.Get("Authorization") != "Bearer tok" || list.Header.Get("Accept") != "application/json" {
		t.Errorf("list agents: %+v", list)
	}
	if comp.Method != http.MethodGet || comp.URL != "http://127.0.0.1:9/base/api/compliance/status?verbose=1" {
		t.Errorf("compliance: %+v", comp)
	}
	var body map[string]string
	if err := json.Unmarshal(ev.Body, &body); err != nil || body["user"] != "nobody" || ev.Header.Get("Content-Type") != "application/json" {
		t.Errorf("record event: body %s (%v), header %v", ev.Body, err, ev.Header)
	}
	// With no base URL given, the scenario's own is used.
	targets, err = s.Targets("", "")
	if err != nil || targets[0].URL != "http://localhost:3001/api/agents" || targets[0].Header.Get("Authorization") != "" {
		t.Errorf("targets %+v, %v", targets, err)
	}
}

func TestParseScenarioErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "empty"},
		{"comment only", "# nothing\n", "empty"},
		{"unknown key", "requests:\n  - path: /a\n    metod: GET\n", `line 3: unknown key "metod"`},
		{"unknown top key", "request:\n  - path: /a\n", `unknown key "request"`},
		{"bad method", "requests:\n  - path: /a\n  - path: /b\n    method: FETCH\n", `line 3: requests[1]: method "FETCH" is not one of GET`},
		{"bad path", "requests:\n  - path: api\n", `path "api" must start with /`},
		{"negative weight", "requests:\n  - path: /a\n    weight: -2\n", "weight -2 is negative"},
		{"weight type", "requests:\n  - path: /a\n    weight: lots\n", `wrong type: str "lots"`},
		{"no requests", "base_url: http://h\n", "no requests"},
		{"body and json", "requests:\n  - path: /a\n    body: x\n    json: {a: 1}\n", "body or json, not both"},
		{"bad base url", "base_url: ftp://h\nrequests:\n  - path: /a\n", "http:// or https://"},
		{"bad header", "headers: {\"Bad Header\": x}\nrequests:\n  - path: /a\n", "not a valid header name"},
		{"computed header", "requests:\n  - path: /a\n    headers: {Content-Length: 4}\n", "computed"},
		{"unset variable", "login: {username: u, password: '${NOPE}'}\nrequests:\n  - path: /a\n", "login.password: environment variable NOPE is not set"},
		{"login without password", "login: {username: u}\nrequests:\n  - path: /a\n", "needs a username and a password"},
		{"not yaml", "requests: [\n", "did not find expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tc.in), env(nil))
			if !errors.Is(err, ErrBadScenario) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

func FuzzParseScenario(f *testing.F) {
	f.Add([]byte(dashboardScenario))
	f.Add([]byte("requests:\n  - path: /a\n    weight: 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseScenario(data, env(map[string]string{"TARS_LOADTEST_PASSWORD": "x"}))
		if (err == nil) == (s == nil) {
			t.Fatalf("scenario %v with error %v", s, err)
		}
		if err == nil {
			if _, err := s.Targets("http://127.0.0.1:1", "t"); err != nil {
				t.Fatalf("valid scenario, bad targets: %v", err)
			}
		}
	})
}

// loginServer is the dashboard API's login in miniature: it hands out a
// token for the right password and wants it on every other request.
func loginServer(t *testing.T, tokenJSON string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/auth/login" {
			var creds map[string]string
			if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&creds) != nil || creds["password"] != "s3cret" {
				http.Error(w, `{"detail":"invalid credentials for `+creds["username"]+`"}`, http.StatusUnauthorized)
				return
			}
			_, _ = w.Write([]byte(tokenJSON))
			return
		}
		if r.Header.Get("Authorization") != "Bearer tok-123" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte("[]"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestScenarioLogin(t *testing.T) {
	t.Parallel()
	srv := loginServer(t, `{"access_token":"tok-123","token_type":"bearer"}`)
	parse := func(password string) *Scenario {
		s, err := ParseScenario([]byte(dashboardScenario), env(map[string]string{"TARS_LOADTEST_PASSWORD": password}))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := parse("s3cret")
	tok, err := s.DoLogin(context.Background(), srv.Client(), srv.URL)
	if err != nil || tok != "tok-123" {
		t.Fatalf("token %q, err %v", tok, err)
	}
	targets, err := s.Targets(srv.URL, tok)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics()
	st, err := NewAttacker(Workers(2), MaxRequests(50)).Attack(context.Background(), mustTargeter(t, targets[:2]...), m)
	if err != nil {
		t.Fatal(err)
	}
	if rep := NewReport(m, st); rep.Summary.StatusCodes["200"] != 50 {
		t.Errorf("status codes %v: the token was not sent", rep.Summary.StatusCodes)
	}

	_, err = parse("wrong").DoLogin(context.Background(), srv.Client(), srv.URL)
	var le *LoginError
	if !errors.As(err, &le) || !le.Denied() || strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), "operator") {
		t.Errorf("wrong password: err = %v", err)
	}

	nested := loginServer(t, `{"data":{"token":"tok-123"}}`)
	s = parse("s3cret")
	if _, err := s.DoLogin(context.Background(), nested.Client(), nested.URL); err == nil || !strings.Contains(err.Error(), `no "access_token" string field`) {
		t.Errorf("missing token field: err = %v", err)
	}
	s.Login.TokenField = "data.token"
	if tok, err := s.DoLogin(context.Background(), nested.Client(), nested.URL); tok != "tok-123" || err != nil {
		t.Errorf("nested token: %q, %v", tok, err)
	}
}
