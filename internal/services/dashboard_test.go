package services_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/serviceapi"
	"github.com/tars-ops/tarsctl/internal/services/dashboardapi"
	"github.com/tars-ops/tarsctl/internal/state"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// dashboard-api's GET /api/agents shows the orchestrator's agents, and its
// own table with a warning while the orchestrator is down.
func TestDashboardListsOrchestratorAgents(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, nil)
	orch := startOrchestrator(t, cfg, nil)
	if r := do(t, "POST", orch.URL+"/api/agents/dash-1/train", token(t, "otto", "operator"), map[string]any{"episodes": 3}); r.Code != 200 {
		t.Fatalf("train: %d %s", r.Code, r.Raw)
	}

	db, err := store.Open(context.Background(), store.Options{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "tars.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.UpsertAgent(context.Background(), store.Agent{ID: "legacy", Name: "legacy", Status: "idle", UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	st := state.NewMemory(time.Now)
	defer st.Close()
	signer, _ := auth.NewSigner(testSecret, time.Hour, nil)
	// dashboard-api calls the orchestrator with a viewer token of its own.
	tokens, err := serviceapi.ServiceTokens(testSecret, dashboardapi.Service, store.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	oc, _ := client.New(orch.URL, client.WithTokenSource(tokens))
	logs := &syncBuffer{}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h, err := dashboardapi.New(dashboardapi.Options{
		Now:    clock,
		Config: cfg, Users: db, State: st, Signer: signer, CheckPassword: store.CheckPassword,
		Registry: prometheus.NewRegistry(), Orchestrator: oc, OrchestratorTimeout: 2 * time.Second,
		Logger: newTextLogger(logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	dash := httptest.NewServer(h)
	defer dash.Close()
	viewer := token(t, "vera", "viewer")

	r := do(t, "GET", dash.URL+"/api/agents", viewer, nil)
	agents, _ := r.Body["agents"].([]any)
	if r.Code != http.StatusOK || r.Body["source"] != "orchestrator" || r.Body["count"] != float64(1) || len(agents) != 1 ||
		agents[0].(map[string]any)["id"] != "dash-1" || agents[0].(map[string]any)["type"] != "q-learning" {
		t.Errorf("with the orchestrator up: %d %s", r.Code, r.Raw)
	}

	if err := orch.Stop(); err != nil {
		t.Fatal(err)
	}
	// The list is cached for a second; step past it.
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	r = do(t, "GET", dash.URL+"/api/agents", viewer, nil)
	agents, _ = r.Body["agents"].([]any)
	if r.Code != http.StatusOK || r.Body["source"] != "dashboard" || r.Body["warning"] == nil || len(agents) != 1 ||
		agents[0].(map[string]any)["id"] != "legacy" {
		t.Errorf("with the orchestrator down: %d %s", r.Code, r.Raw)
	}
	if !strings.Contains(logs.String(), "Orchestrator unavailable") {
		t.Errorf("no warning logged:\n%s", logs)
	}
}
