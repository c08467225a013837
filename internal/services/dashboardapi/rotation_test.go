package dashboardapi

import (
	"net/http/httptest"
	"os"
	"path/filepath"
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

// TestJWTSecretPreviousKeys: JWTSecret registers the previous secrets in
// their grace period for every signer of the secret, and drops expired
// ones from the file.
func TestJWTSecretPreviousKeys(t *testing.T) {
	t.Parallel()
	noEnv := func(string) string { return "" }
	cfg := testConfig(t, nil)
	file := filepath.Join(t.TempDir(), "jwt")
	cfg.Auth.JWTSecretFile = file
	current := []byte("jwtsecret-previous-keys-test-current")
	if err := os.WriteFile(file, append(current, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	inGrace := []byte("jwtsecret-previous-keys-test-in-grace")
	expired := []byte("jwtsecret-previous-keys-test-expired!")
	now := time.Now()
	if err := auth.WritePrevious(file+auth.PreviousSuffix, []auth.PreviousSecret{
		{Secret: inGrace, ReplacedAt: now, VerifyUntil: now.Add(time.Hour)},
		{Secret: expired, ReplacedAt: now.Add(-2 * time.Hour), VerifyUntil: now.Add(-time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	secret, _, err := JWTSecret(cfg, noEnv)
	if err != nil || string(secret) != string(current) {
		t.Fatalf("JWTSecret: %q %v", secret, err)
	}
	// What orchestrator and hypersync do: a signer from the secret alone.
	s, _ := auth.NewSigner(secret, time.Hour, nil)
	for name, key := range map[string][]byte{"in grace": inGrace, "expired": expired} {
		other, _ := auth.NewSigner(key, time.Hour, nil)
		tok, _, _ := other.Issue("alice", store.RoleViewer)
		_, err := s.Verify(tok)
		if (err == nil) != (name == "in grace") {
			t.Errorf("token of the %s secret: %v", name, err)
		}
	}
	prev, err := auth.ReadPrevious(file + auth.PreviousSuffix)
	if err != nil || len(prev) != 1 || string(prev[0].Secret) != string(inGrace) {
		t.Errorf("previous file after start: %d entries, %v", len(prev), err)
	}
}
