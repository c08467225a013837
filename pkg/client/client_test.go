package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRequestsAndErrors(t *testing.T) {
	t.Parallel()
	type seen struct{ method, path, query, auth, body, contentType string }
	got := make(chan seen, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), string(b), r.Header.Get("Content-Type")}
		w.Header().Set("X-Request-ID", "req-1")
		switch r.URL.Path {
		case "/api/agents/missing":
			w.WriteHeader(404)
			io.WriteString(w, `{"error":"Not Found","message":"agent not found: \"missing\""}`)
		case "/api/agents/a%2Fb", "/api/agents/a/b":
			w.WriteHeader(400)
		case "/api/agents/big/train":
			w.WriteHeader(413)
			io.WriteString(w, `{"error":"Request Entity Too Large","message":"request body is larger than 65536 bytes"}`)
		case "/api/sync":
			if r.Method == "POST" {
				w.WriteHeader(202)
				io.WriteString(w, `{"id":"sync-1","status":"pending"}`)
				return
			}
			io.WriteString(w, `{"syncs":[],"count":0,"pending":0}`)
		default:
			io.WriteString(w, `{"agents":[{"id":"a1"}],"count":1}`)
		}
	}))
	defer srv.Close()
	n := 0
	c, err := New(srv.URL+"/", WithTokenSource(func(context.Context) (string, error) { n++; return "tok" + string(rune('0'+n)), nil }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	agents, err := c.ListAgents(ctx)
	if s := <-got; err != nil || len(agents) != 1 || s.auth != "Bearer tok1" || s.path != "/api/agents" {
		t.Errorf("ListAgents: %v %v %+v", agents, err, s)
	}

	_, err = c.GetAgent(ctx, "missing")
	<-got
	var apiErr *APIError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &apiErr) || apiErr.RequestID != "req-1" || apiErr.Temporary() ||
		err.Error() != `GET `+srv.URL+`/api/agents/missing: 404 agent not found: "missing"` {
		t.Errorf("GetAgent of a missing agent: %v", err)
	}
	if IsUnreachable(err) {
		t.Error("an error status is not unreachable")
	}

	_, err = c.GetAgent(ctx, "a/b")
	if s := <-got; !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "400 Bad Request") {
		t.Errorf("id with a slash: %v %+v", err, s)
	}

	lr := 0.5
	sy, err := c.SubmitSync(ctx, SyncRequest{AgentID: "a1", Hyperparameters: HyperparameterUpdate{LearningRate: &lr}}, 2*time.Second)
	s := <-got
	if err != nil || sy.ID != "sync-1" || s.query != "wait=2s" || s.body != `{"agent_id":"a1","hyperparameters":{"learning_rate":0.5}}` || s.contentType != "application/json" {
		t.Errorf("SubmitSync: %+v %v %+v", sy, err, s)
	}
	if _, err := c.ListSyncs(ctx, ListSyncsOptions{AgentID: "a1", Status: SyncFailed, Limit: 5}); err != nil {
		t.Error(err)
	}
	if s := <-got; s.query != "agent_id=a1&limit=5&status=failed" || s.contentType != "" {
		t.Errorf("ListSyncs query %q, Content-Type %q (no body, no type)", s.query, s.contentType)
	}

	// The daemons refuse a body they cannot take with 413 or 415: bad
	// input, as 400 is.
	_, err = c.Train(ctx, "big", TrainRequest{Episodes: 1})
	if s := <-got; !errors.Is(err, ErrBadRequest) || !errors.As(err, &apiErr) || apiErr.Message != "request body is larger than 65536 bytes" || s.contentType != "application/json" {
		t.Errorf("Train with a body refused as too large: %v %+v", err, s)
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	c, _ := New(url)
	_, err = c.ListAgents(context.Background())
	if !IsUnreachable(err) {
		t.Errorf("IsUnreachable(%v) = false", err)
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "127.0.0.1:8094", "ftp://x", "http://"} {
		if _, err := New(u); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}

func TestHyperparameterUpdate(t *testing.T) {
	t.Parallel()
	h := Hyperparameters{LearningRate: 0.1, Discount: 0.9, Epsilon: 1, EpsilonDecay: 0.9, EpsilonMin: 0}
	if !(HyperparameterUpdate{}).IsEmpty() || h.Update().IsEmpty() {
		t.Error("IsEmpty")
	}
	if got := h.Update().Apply(Hyperparameters{}); got != h {
		t.Errorf("round trip: %+v", got)
	}
	d := 0.5
	got := HyperparameterUpdate{Discount: &d}.Apply(h)
	if got.Discount != 0.5 || got.LearningRate != 0.1 {
		t.Errorf("Apply: %+v", got)
	}
	b, _ := json.Marshal(HyperparameterUpdate{Discount: &d})
	if string(b) != `{"discount":0.5}` {
		t.Errorf("JSON %s", b)
	}
}
