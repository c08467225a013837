package dashboardapi

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/state"
	"github.com/tars-ops/tarsctl/internal/store"
)

// TestGracefulRotationInAPI: after a graceful rotation a token signed with
// the old secret is accepted until the old secret's grace period ends —
// also when it was verified (and cached) before — and gets 401 after.
func TestGracefulRotationInAPI(t *testing.T) {
	t.Parallel()
	now := &clock{t: time.Now()}
	oldSecret := []byte("old-secret-old-secret-old-secret")
	oldSigner, _ := auth.NewSigner(oldSecret, time.Hour, now.Now)
	oldTok, _, _ := oldSigner.Issue("alice", store.RoleViewer)

	cfg := testConfig(t, nil)
	base, _ := auth.NewSigner(testSecret, time.Hour, now.Now)
	signer := base.WithPreviousKeys([]auth.PreviousKey{{Secret: oldSecret, Until: now.Now().Add(10 * time.Minute)}})
	h, err := New(Options{Config: cfg, Users: backends[0].users(t), State: state.NewMemory(now.Now), Signer: signer,
		CheckPassword: store.CheckPassword, Registry: prometheus.NewRegistry(), Now: now.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	a := &api{url: srv.URL}
	newTok, _, _ := signer.Issue("bob", store.RoleViewer)

	if r := a.do(t, "GET", "/api/me", oldTok, nil); r.code != 200 {
		t.Fatalf("old token in the grace period: %d %s", r.code, r.raw)
	}
	now.Add(10 * time.Minute)
	if r := a.do(t, "GET", "/api/me", oldTok, nil); r.code != 401 {
		t.Errorf("old token after the grace period: %d, want 401", r.code)
	}
	if r := a.do(t, "GET", "/api/me", newTok, nil); r.code != 200 {
		t.Errorf("new token: %d", r.code)
	}
}
