package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Scenario is a load-test scenario: several weighted requests and an
// optional login step, read from YAML by [ParseScenario]. The format is
// documented in docs/loadtest.md:
//
//	base_url: http://localhost:3001
//	headers: {Accept: application/json}
//	login:
//	  username: operator
//	  password: ${TARS_LOADTEST_PASSWORD}
//	requests:
//	  - name: list agents
//	    path: /api/agents
//	    weight: 3
//	  - name: compliance status
//	    path: /api/compliance/status
type Scenario struct {
	// BaseURL is where paths are resolved, unless the caller gives one.
	BaseURL string `yaml:"base_url"`
	// Headers are sent with every request; a request's own win.
	Headers  map[string]string `yaml:"headers"`
	Login    *Login            `yaml:"login"`
	Requests []Request         `yaml:"requests"`
}

// Login is a scenario's login step: before the attack, it POSTs
// {"username": ..., "password": ...} as JSON to Path, reads the token from
// the response's TokenField, and sends it with every request in Header,
// after Scheme. The token and the password never appear in reports,
// logs or errors.
type Login struct {
	Path       string `yaml:"path"` // default /auth/login
	Username   string `yaml:"username"`
	Password   string `yaml:"password"`
	TokenField string `yaml:"token_field"` // default access_token; a.b for nested fields
	Header     string `yaml:"header"`      // default Authorization
	// Scheme precedes the token in Header; default "Bearer", "" for none.
	Scheme *string `yaml:"scheme"`
}

// Request is one request of a scenario.
type Request struct {
	Name    string            `yaml:"name"`   // default "METHOD path"
	Method  string            `yaml:"method"` // default GET
	Path    string            `yaml:"path"`   // starts with /; may hold a query
	Headers map[string]string `yaml:"headers"`
	// Body is sent as is; JSON is encoded and sent with Content-Type
	// application/json. At most one of them may be set.
	Body   string `yaml:"body"`
	JSON   any    `yaml:"json"`
	Weight int    `yaml:"weight"` // share of requests; default 1

	line int
	body []byte
}

// Defaults of a [Login].
const (
	DefaultLoginPath  = "/auth/login"
	DefaultTokenField = "access_token"
)

// ErrBadScenario is wrapped by [ParseScenario]'s errors.
var ErrBadScenario = errors.New("bad scenario")

// maxScenarioSize caps the scenario files [ParseScenario] reads.
const maxScenarioSize = 1 << 20

// ParseScenario reads a YAML scenario. ${VAR} and ${VAR:-default} in its
// values are expanded with getenv ("$${" is a literal "${"); an unset
// variable is an error that names it. Unknown keys, bad methods, paths and
// weights are errors that give the line.
func ParseScenario(data []byte, getenv func(string) string) (*Scenario, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadScenario, fmt.Sprintf(format, args...))
	}
	if len(data) > maxScenarioSize {
		return nil, bad("larger than %d KiB", maxScenarioSize>>10)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, bad("empty")
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, bad("%s", yamlMessage(err))
	}
	var s Scenario
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, bad("empty")
		}
		return nil, bad("%s", yamlMessage(err))
	}
	lines := requestLines(&root)
	for i := range s.Requests {
		if i < len(lines) {
			s.Requests[i].line = lines[i]
		}
	}
	if err := s.expand(getenv); err != nil {
		return nil, bad("%v", err)
	}
	if err := s.validate(); err != nil {
		return nil, bad("%v", err)
	}
	return &s, nil
}

var (
	reUnknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)
	reTypeMismatch = regexp.MustCompile(`cannot unmarshal !!(\w+) ` + "`" + `([^` + "`" + `]*)` + "`" + ` into \S+`)
)

// yamlMessage turns a YAML error into a message about the file rather
// than about Go types: "line 3: unknown key \"metod\"".
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			m = reUnknownField.ReplaceAllString(m, `unknown key "$1"`)
			m = reTypeMismatch.ReplaceAllString(m, `wrong type: $1 "$2"`)
			msgs[i] = m
		}
		return strings.Join(msgs, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// requestLines finds the line of each item of the requests list.
func requestLines(root *yaml.Node) []int {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "requests" && m.Content[i+1].Kind == yaml.SequenceNode {
			var lines []int
			for _, item := range m.Content[i+1].Content {
				lines = append(lines, item.Line)
			}
			return lines
		}
	}
	return nil
}

func (s *Scenario) expand(getenv func(string) string) error {
	var err error
	ex := func(where string, v *string) {
		if err != nil {
			return
		}
		var e error
		if *v, e = expandVars(*v, getenv); e != nil {
			err = fmt.Errorf("%s: %w", where, e)
		}
	}
	exMap := func(where string, m map[string]string) {
		for k, v := range m {
			ex(where+"."+k, &v)
			m[k] = v
		}
	}
	ex("base_url", &s.BaseURL)
	exMap("headers", s.Headers)
	if l := s.Login; l != nil {
		ex("login.path", &l.Path)
		ex("login.username", &l.Username)
		ex("login.password", &l.Password)
	}
	for i := range s.Requests {
		r := &s.Requests[i]
		where := fmt.Sprintf("requests[%d]", i)
		ex(where+".path", &r.Path)
		exMap(where+".headers", r.Headers)
		ex(where+".body", &r.Body)
		if err == nil && r.JSON != nil {
			r.JSON, err = expandJSON(r.JSON, getenv)
			if err != nil {
				err = fmt.Errorf("%s.json: %w", where, err)
			}
		}
	}
	return err
}

func expandJSON(v any, getenv func(string) string) (any, error) {
	switch v := v.(type) {
	case string:
		return expandVars(v, getenv)
	case []any:
		for i := range v {
			x, err := expandJSON(v[i], getenv)
			if err != nil {
				return nil, err
			}
			v[i] = x
		}
	case map[string]any:
		for k := range v {
			x, err := expandJSON(v[k], getenv)
			if err != nil {
				return nil, err
			}
			v[k] = x
		}
	}
	return v, nil
}

// expandVars replaces ${VAR} and ${VAR:-default}. Errors name the
// variable, never a value: values may be secrets.
func expandVars(s string, getenv func(string) string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", errors.New("unterminated ${ (write $${ for a literal ${)")
		}
		name, def, hasDef := strings.Cut(s[i+2:i+2+end], ":-")
		if !validVarName(name) {
			return "", errors.New("invalid variable name in ${...}")
		}
		switch v := getenv(name); {
		case v != "":
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		default:
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		i += 2 + end + 1
	}
	return b.String(), nil
}

func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func (s *Scenario) validate() error {
	if s.BaseURL != "" {
		if err := checkBaseURL(s.BaseURL); err != nil {
			return fmt.Errorf("base_url: %w", err)
		}
	}
	if err := checkHeaders("headers", s.Headers); err != nil {
		return err
	}
	if l := s.Login; l != nil {
		if l.Path == "" {
			l.Path = DefaultLoginPath
		}
		if !strings.HasPrefix(l.Path, "/") {
			return fmt.Errorf("login.path %q must start with /", l.Path)
		}
		if l.Username == "" || l.Password == "" {
			return errors.New("login needs a username and a password (use ${VAR} to take the password from the environment)")
		}
		if l.TokenField == "" {
			l.TokenField = DefaultTokenField
		}
		if l.Header == "" {
			l.Header = "Authorization"
		}
		if !validHeaderName(l.Header) {
			return fmt.Errorf("login.header %q is not a valid header name", l.Header)
		}
	}
	if len(s.Requests) == 0 {
		return errors.New("no requests: list at least one under requests")
	}
	for i := range s.Requests {
		r := &s.Requests[i]
		where := fmt.Sprintf("requests[%d]", i)
		if r.line > 0 {
			where = fmt.Sprintf("line %d: %s", r.line, where)
		}
		if r.Method == "" {
			r.Method = http.MethodGet
		}
		if m := strings.ToUpper(r.Method); ValidMethod(m) {
			r.Method = m
		} else {
			return fmt.Errorf("%s: method %q is not one of %s", where, r.Method, KnownMethods())
		}
		if !strings.HasPrefix(r.Path, "/") {
			return fmt.Errorf("%s: path %q must start with /", where, r.Path)
		}
		if _, err := url.ParseRequestURI(r.Path); err != nil {
			return fmt.Errorf("%s: path %q is not a valid request path", where, r.Path)
		}
		if r.Weight < 0 {
			return fmt.Errorf("%s: weight %d is negative", where, r.Weight)
		}
		if r.Name == "" {
			r.Name = r.Method + " " + r.Path
		}
		if err := checkHeaders(where+".headers", r.Headers); err != nil {
			return err
		}
		switch {
		case r.Body != "" && r.JSON != nil:
			return fmt.Errorf("%s: set body or json, not both", where)
		case r.JSON != nil:
			b, err := json.Marshal(r.JSON)
			if err != nil {
				return fmt.Errorf("%s: json: %w", where, err)
			}
			r.body = b
		case r.Body != "":
			r.body = []byte(r.Body)
		}
	}
	return nil
}

func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a valid URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q must be an http:// or https:// URL with a host", u.Redacted())
	}
	if u.User != nil {
		return fmt.Errorf("%q: credentials in the URL are not supported; use login or headers", u.Redacted())
	}
	return nil
}

func checkHeaders(where string, h map[string]string) error {
	for k, v := range h {
		if !validHeaderName(k) {
			return fmt.Errorf("%s: %q is not a valid header name", where, k)
		}
		if !validHeaderValue(v) {
			return fmt.Errorf("%s.%s: value holds a control character", where, k)
		}
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Transfer-Encoding":
			return fmt.Errorf("%s: %s is computed and may not be set", where, k)
		}
	}
	return nil
}

// joinURL resolves path against base: base's own path is a prefix, so a
// base of http://h/api and a path of /agents give http://h/api/agents.
func joinURL(base, path string) (string, error) {
	if err := checkBaseURL(base); err != nil {
		return "", err
	}
	u, _ := url.Parse(base)
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/") + path, nil
}

// Targets returns the scenario's requests as targets on baseURL (the
// scenario's own base_url when baseURL is ""), carrying token when the
// scenario logs in.
func (s *Scenario) Targets(baseURL, token string) ([]Target, error) {
	if baseURL == "" {
		baseURL = s.BaseURL
	}
	if baseURL == "" {
		return nil, errors.New("no base URL: give one, or set base_url in the scenario")
	}
	targets := make([]Target, 0, len(s.Requests))
	for i := range s.Requests {
		r := &s.Requests[i]
		u, err := joinURL(baseURL, r.Path)
		if err != nil {
			return nil, fmt.Errorf("base URL: %w", err)
		}
		h := http.Header{}
		for k, v := range s.Headers {
			h.Set(k, v)
		}
		for k, v := range r.Headers {
			h.Set(k, v)
		}
		if r.JSON != nil && h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/json")
		}
		if s.Login != nil && token != "" {
			h.Set(s.Login.Header, s.Login.authValue(token))
		}
		targets = append(targets, Target{
			Name:   r.Name,
			Method: r.Method,
			URL:    u,
			Header: h,
			Body:   r.body,
			Weight: r.Weight,
		})
	}
	return targets, nil
}

func (l *Login) authValue(token string) string {
	scheme := "Bearer"
	if l.Scheme != nil {
		scheme = *l.Scheme
	}
	if scheme == "" {
		return token
	}
	return scheme + " " + token
}

// LoginError is a login the server refused.
type LoginError struct {
	URL    string // without credentials
	Status int
}

// Error names the URL and the status; never the credentials.
func (e *LoginError) Error() string {
	return fmt.Sprintf("log in at %s: server answered %d %s", e.URL, e.Status, http.StatusText(e.Status))
}

// Denied reports whether the server refused the credentials (401 or
// 403), as opposed to failing.
func (e *LoginError) Denied() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

// maxLoginResponse caps the login response read.
const maxLoginResponse = 1 << 20

// DoLogin runs the scenario's login step against baseURL (the scenario's
// base_url when "") and returns the token. It returns "" and no error
// when the scenario has no login step. A refusal is a [*LoginError].
func (s *Scenario) DoLogin(ctx context.Context, client *http.Client, baseURL string) (string, error) {
	l := s.Login
	if l == nil {
		return "", nil
	}
	if baseURL == "" {
		baseURL = s.BaseURL
	}
	u, err := joinURL(baseURL, l.Path)
	if err != nil {
		return "", fmt.Errorf("log in: base URL: %w", err)
	}
	body, err := json.Marshal(map[string]string{"username": l.Username, "password": l.Password})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("log in at %s: %w", u, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", DefaultUserAgent)
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("log in at %s: %w", u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxLoginResponse))
	if err != nil {
		return "", fmt.Errorf("log in at %s: read response: %w", u, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The body is not quoted: it may echo what was sent.
		return "", &LoginError{URL: u, Status: resp.StatusCode}
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("log in at %s: response is not JSON", u)
	}
	for _, k := range strings.Split(l.TokenField, ".") {
		m, ok := doc.(map[string]any)
		if !ok {
			doc = nil
			break
		}
		doc = m[k]
	}
	token, ok := doc.(string)
	if !ok || token == "" {
		return "", fmt.Errorf("log in at %s: response has no %q string field", u, l.TokenField)
	}
	if !validHeaderValue(token) {
		return "", fmt.Errorf("log in at %s: token holds a control character", u)
	}
	return token, nil
}
