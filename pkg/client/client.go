package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultTimeout bounds each request of a client built without
// [WithHTTPClient]. Training runs of many episodes take longer: pass a
// context deadline or an http.Client of your own.
const DefaultTimeout = 60 * time.Second

// maxResponse caps how much of a response body is read.
const maxResponse = 8 << 20

// TokenSource returns the bearer token for one request; an empty token
// sends none.
type TokenSource func(ctx context.Context) (string, error)

// Client calls one daemon's API. Create it with [New].
type Client struct {
	base      *url.URL
	hc        *http.Client
	token     TokenSource
	userAgent string
}

// Option configures a [Client].
type Option func(*Client)

// WithHTTPClient makes the client send its requests with hc (for TLS
// settings, timeouts or a custom transport).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithToken authenticates every request with a fixed bearer token, such as
// an access token from dashboard-api's /auth/login.
func WithToken(token string) Option {
	return func(c *Client) {
		c.token = func(context.Context) (string, error) { return token, nil }
	}
}

// WithTokenSource authenticates each request with the token ts returns.
func WithTokenSource(ts TokenSource) Option { return func(c *Client) { c.token = ts } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the daemon at baseURL, such as
// "http://127.0.0.1:8094".
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("client: base URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http://HOST:PORT or https://HOST:PORT", baseURL)
	}
	c := &Client{base: u, hc: &http.Client{Timeout: DefaultTimeout}, userAgent: "tars-client"}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL returns the daemon's base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// Sentinel errors matched by [*APIError] with errors.Is.
var (
	ErrBadRequest   = errors.New("bad request")  // 400, and 413 or 415: the request or its body was refused as malformed
	ErrUnauthorized = errors.New("unauthorized") // 401: no, invalid or expired token
	ErrForbidden    = errors.New("forbidden")    // 403: the token's role may not
	ErrNotFound     = errors.New("not found")    // 404
	ErrConflict     = errors.New("conflict")     // 409: e.g. the agent is already training
)

// APIError is a response with an error status.
type APIError struct {
	StatusCode int
	// Title is the daemon's short error ("Not Found"); Message says why.
	Title     string
	Message   string
	RequestID string // the X-Request-ID the daemon logged it under
	Method    string
	URL       string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Title
	}
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.StatusCode, msg)
}

// Is matches the sentinel of the status code.
func (e *APIError) Is(target error) bool {
	switch e.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return target == ErrBadRequest
	case http.StatusUnauthorized:
		return target == ErrUnauthorized
	case http.StatusForbidden:
		return target == ErrForbidden
	case http.StatusNotFound:
		return target == ErrNotFound
	case http.StatusConflict:
		return target == ErrConflict
	}
	return false
}

// Temporary reports whether retrying the same request later may succeed:
// the daemon was overloaded, starting or stopping, or the agent was busy.
func (e *APIError) Temporary() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusConflict ||
		e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusRequestTimeout
}

// IsUnreachable reports whether err means the daemon could not be reached
// at all (refused, no route, DNS failure, connect timeout), as opposed to
// an answer with an error status.
func IsUnreachable(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return false
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.As(err, &dnsErr) || (errors.As(err, &opErr) && opErr.Op == "dial")
}

// do sends a JSON request and decodes a JSON answer into out (if not nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) (int, error) {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = query.Encode()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != nil {
		tok, err := c.token(ctx)
		if err != nil {
			return 0, fmt.Errorf("get token: %w", err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: read response: %w", method, u.Redacted(), err)
	}
	if resp.StatusCode >= 400 {
		var e ErrorBody
		_ = json.Unmarshal(data, &e)
		return resp.StatusCode, &APIError{
			StatusCode: resp.StatusCode, Title: e.Error, Message: e.Message,
			RequestID: resp.Header.Get("X-Request-ID"), Method: method, URL: u.Redacted(),
		}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode response: %w", method, u.Redacted(), err)
		}
	}
	return resp.StatusCode, nil
}

// ListAgents returns the orchestrator's agents, sorted by id.
func (c *Client) ListAgents(ctx context.Context) ([]Agent, error) {
	var l AgentList
	if _, err := c.do(ctx, http.MethodGet, "/api/agents", nil, nil, &l); err != nil {
		return nil, err
	}
	if l.Agents == nil {
		l.Agents = []Agent{}
	}
	return l.Agents, nil
}

// GetAgent returns one agent.
func (c *Client) GetAgent(ctx context.Context, id string) (Agent, error) {
	var a Agent
	_, err := c.do(ctx, http.MethodGet, "/api/agents/"+url.PathEscape(id), nil, nil, &a)
	return a, err
}

// Train runs a training run and returns its result once it has finished
// and the agent's checkpoint is written.
func (c *Client) Train(ctx context.Context, id string, req TrainRequest) (TrainResult, error) {
	var r TrainResult
	_, err := c.do(ctx, http.MethodPost, "/api/agents/"+url.PathEscape(id)+"/train", nil, req, &r)
	return r, err
}

// SetHyperparameters changes an agent's hyperparameters. An agent that is
// training picks them up from its next episode.
func (c *Client) SetHyperparameters(ctx context.Context, id string, u HyperparameterUpdate) (Agent, error) {
	var a Agent
	_, err := c.do(ctx, http.MethodPut, "/api/agents/"+url.PathEscape(id)+"/hyperparameters", nil, u, &a)
	return a, err
}

// MaxSyncWait is the longest wait [Client.SubmitSync] may ask for.
const MaxSyncWait = 30 * time.Second

// SubmitSync hands HyperSync a hyperparameter set to apply. HyperSync
// records it durably before answering, then applies it, retrying while the
// orchestrator is unreachable. With wait > 0 (at most [MaxSyncWait]) the
// call waits up to that long for the sync to be applied or to fail; the
// returned Sync's Status says which, or is [SyncPending] if it is still
// being retried.
func (c *Client) SubmitSync(ctx context.Context, req SyncRequest, wait time.Duration) (Sync, error) {
	var q url.Values
	if wait > 0 {
		q = url.Values{"wait": {wait.String()}}
	}
	var s Sync
	_, err := c.do(ctx, http.MethodPost, "/api/sync", q, req, &s)
	return s, err
}

// ListSyncsOptions filter [Client.ListSyncs]; zero fields do not filter.
type ListSyncsOptions struct {
	AgentID string
	Status  string // SyncPending, SyncApplied or SyncFailed
	Limit   int    // at most this many, newest first (the daemon caps it)
}

// ListSyncs returns recent syncs, newest first.
func (c *Client) ListSyncs(ctx context.Context, o ListSyncsOptions) (SyncList, error) {
	q := url.Values{}
	if o.AgentID != "" {
		q.Set("agent_id", o.AgentID)
	}
	if o.Status != "" {
		q.Set("status", o.Status)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	var l SyncList
	_, err := c.do(ctx, http.MethodGet, "/api/sync", q, nil, &l)
	if l.Syncs == nil {
		l.Syncs = []Sync{}
	}
	return l, err
}

// GetSync returns one sync by id.
func (c *Client) GetSync(ctx context.Context, id string) (Sync, error) {
	var s Sync
	_, err := c.do(ctx, http.MethodGet, "/api/sync/"+url.PathEscape(id), nil, nil, &s)
	return s, err
}
