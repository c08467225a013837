package dashboardapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/state"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

// BenchmarkListAgentsAuthenticated is the handler's share of bench/
// dashboard.sh's headline request: an authenticated, rate-limited GET
// /api/agents (token verification from the cache, the rate limit and the
// revocation in one state-store round trip, the role check, the cached
// list), without the network. "memory" uses the in-process store,
// "redis" a real Redis. It uses only New and Options, so the same file
// measures another commit's handler too.
func BenchmarkListAgentsAuthenticated(b *testing.B) {
	for _, backend := range []string{"memory", "redis"} {
		b.Run(backend, func(b *testing.B) {
			res, err := config.Load(config.LoadOptions{Profile: "local", Getenv: func(string) string { return "" }})
			if err != nil {
				b.Fatal(err)
			}
			cfg := res.Config
			cfg.Auth.Enabled, cfg.Auth.RBAC = true, true
			cfg.RateLimiting.Enabled, cfg.RateLimiting.RequestsPerMinute = true, 1_000_000_000
			var st state.Store = state.NewMemory(time.Now)
			if backend == "redis" {
				st = state.NewRedis(redis.NewClient(&redis.Options{Addr: testenv.SharedRedis(b).Addr, DB: 15}))
			}
			b.Cleanup(func() { st.Close() })
			db, err := store.Open(context.Background(), store.Options{Driver: "sqlite", Path: filepath.Join(b.TempDir(), "tars.db")})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			signer, err := auth.NewSigner([]byte("bench-secret-bench-secret-bench-secret"), time.Hour, nil)
			if err != nil {
				b.Fatal(err)
			}
			h, err := New(Options{Config: cfg, Users: db, State: st, Signer: signer, CheckPassword: store.CheckPassword, Registry: prometheus.NewRegistry()})
			if err != nil {
				b.Fatal(err)
			}
			tok, _, _ := signer.Issue("vera", store.RoleViewer)
			req := httptest.NewRequest(http.MethodGet, "/api/agents", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
