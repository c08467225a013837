package services_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/services/hypersync"
	"github.com/tars-ops/tarsctl/internal/services/orchestrator"
	"github.com/tars-ops/tarsctl/pkg/client"
)

func ptr[T any](v T) *T { return &v }

// orchestratorClient is an operator's client of the orchestrator at url.
func orchestratorClient(t testing.TB, url string) *client.Client {
	t.Helper()
	c, err := client.New(url, client.WithToken(token(t, "otto", "operator")))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func createAgent(t testing.TB, orchURL, id string) {
	t.Helper()
	if _, err := orchestratorClient(t, orchURL).Train(context.Background(), id, client.TrainRequest{Episodes: 5, Seed: ptr(uint64(1))}); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond (which asks a daemon over HTTP) every 10ms until
// it holds, failing the test after timeout.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %s", what, timeout)
		}
		<-tick.C
	}
}

// waitSettled polls GET /api/sync/{id} until the sync is no longer
// pending.
func waitSettled(t testing.TB, hsURL, id string, timeout time.Duration) client.Sync {
	t.Helper()
	viewer := token(t, "vera", "viewer")
	var s client.Sync
	eventually(t, timeout, "settled sync "+id, func() bool {
		do(t, "GET", hsURL+"/api/sync/"+id, viewer, nil).Decode(t, &s)
		return s.Status != client.SyncPending
	})
	return s
}

func TestSyncAppliedToRunningOrchestrator(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, nil)
	orch := startOrchestrator(t, cfg, nil)
	createAgent(t, orch.URL, "agent-7")
	hs := startHyperSync(t, cfg, orch.URL)
	viewer, operator := token(t, "vera", "viewer"), token(t, "otto", "operator")
	body := map[string]any{"agent_id": "agent-7", "hyperparameters": map[string]float64{"learning_rate": 0.35, "discount": 0.95}, "source": "automl"}

	if r := do(t, "POST", hs.URL+"/api/sync", "", body); r.Code != 401 {
		t.Errorf("no token: %d %s", r.Code, r.Raw)
	}
	if r := do(t, "POST", hs.URL+"/api/sync", viewer, body); r.Code != 403 {
		t.Errorf("viewer submitting: %d %s", r.Code, r.Raw)
	}

	r := do(t, "POST", hs.URL+"/api/sync?wait=10s", operator, body)
	var s client.Sync
	r.Decode(t, &s)
	if r.Code != 200 || s.Status != client.SyncApplied || s.Attempts != 1 || s.LatencyMS <= 0 || s.AppliedAt.IsZero() || s.Source != "automl" {
		t.Fatalf("sync: %d %s", r.Code, r.Raw)
	}
	a, err := orchestratorClient(t, orch.URL).GetAgent(context.Background(), "agent-7")
	if err != nil || a.Hyperparameters.LearningRate != 0.35 || a.Hyperparameters.Discount != 0.95 {
		t.Errorf("agent after the sync: %+v %v", a.Hyperparameters, err)
	}
	if !regexp.MustCompile(`INFO \[hypersync\] HyperSync applied agent=agent-7 latency=[0-9]+ms`).MatchString(hs.Logs.String()) {
		t.Errorf("no runbook line in the log:\n%s", hs.Logs)
	}
	// The orchestrator saw hypersync's own service token.
	if strings.Contains(orch.Logs.String(), "authentication failed") {
		t.Errorf("orchestrator refused hypersync:\n%s", orch.Logs)
	}

	// A sync for an agent the orchestrator does not have fails for good.
	r = do(t, "POST", hs.URL+"/api/sync?wait=10s", operator, map[string]any{"agent_id": "ghost", "hyperparameters": map[string]float64{"epsilon": 0.2}})
	r.Decode(t, &s)
	if r.Code != 200 || s.Status != client.SyncFailed || !strings.Contains(s.Error, "404") {
		t.Errorf("sync of a missing agent: %d %s", r.Code, r.Raw)
	}

	for name, b := range map[string]any{
		"bad agent id":       map[string]any{"agent_id": "../x", "hyperparameters": map[string]float64{"epsilon": 0.2}},
		"no hyperparameters": map[string]any{"agent_id": "agent-7", "hyperparameters": map[string]float64{}},
		"out of range":       map[string]any{"agent_id": "agent-7", "hyperparameters": map[string]float64{"learning_rate": 2}},
		"unknown field":      map[string]any{"agent_id": "agent-7", "hyperparameters": map[string]float64{"lr": 0.1}},
		"not an object":      []int{1},
	} {
		if r := do(t, "POST", hs.URL+"/api/sync", operator, b); r.Code != 400 {
			t.Errorf("%s: %d %s, want 400", name, r.Code, r.Raw)
		}
	}
	if r := do(t, "POST", hs.URL+"/api/sync?wait=1h", operator, body); r.Code != 400 {
		t.Errorf("wait of an hour: %d %s, want 400", r.Code, r.Raw)
	}

	var list client.SyncList
	do(t, "GET", hs.URL+"/api/sync", viewer, nil).Decode(t, &list)
	if list.Count != 2 || list.Pending != 0 || list.Syncs[0].AgentID != "ghost" || list.Syncs[1].Status != client.SyncApplied {
		t.Errorf("list: %+v", list)
	}
	do(t, "GET", hs.URL+"/api/sync?status=failed", viewer, nil).Decode(t, &list)
	if list.Count != 1 || list.Syncs[0].AgentID != "ghost" {
		t.Errorf("failed syncs: %+v", list)
	}
	if r := do(t, "GET", hs.URL+"/api/sync?status=lost", viewer, nil); r.Code != 400 {
		t.Errorf("bad status filter: %d", r.Code)
	}
	if r := do(t, "GET", hs.URL+"/api/sync/sync-nope", viewer, nil); r.Code != 404 {
		t.Errorf("missing sync: %d", r.Code)
	}
	if m := metric(t, hs.URL, "hypersync_apply_latency_seconds_count"); m != "hypersync_apply_latency_seconds_count 1" {
		t.Errorf("latency histogram: %q", m)
	}
	if m := metric(t, hs.URL, `hypersync_syncs_total{outcome="failed"}`); m != `hypersync_syncs_total{outcome="failed"} 1` {
		t.Errorf("failed counter: %q", m)
	}
	if r := do(t, "GET", hs.URL+"/health", "", nil); r.Code != 200 {
		t.Errorf("health: %d %s", r.Code, r.Raw)
	}
}

// A sync accepted while the orchestrator is down is applied when it comes
// back, even if hypersync restarts in between; an agent's syncs apply in
// the order they were accepted.
func TestSyncSurvivesOrchestratorAndHyperSyncRestarts(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, nil)
	orch := startOrchestrator(t, cfg, nil)
	addr := orch.Addr
	createAgent(t, orch.URL, "agent-1")
	if err := orch.Stop(); err != nil {
		t.Fatal(err)
	}

	operator := token(t, "otto", "operator")
	hs := startHyperSync(t, cfg, "http://"+addr)
	var first, second client.Sync
	r := do(t, "POST", hs.URL+"/api/sync", operator, map[string]any{"agent_id": "agent-1", "hyperparameters": map[string]float64{"learning_rate": 0.3}})
	r.Decode(t, &first)
	if r.Code != 202 || first.Status != client.SyncPending {
		t.Fatalf("sync while the orchestrator is down: %d %s", r.Code, r.Raw)
	}
	do(t, "POST", hs.URL+"/api/sync", operator, map[string]any{"agent_id": "agent-1", "hyperparameters": map[string]float64{"learning_rate": 0.4}}).Decode(t, &second)

	// Let the applier fail at least once, then restart hypersync: the
	// journal keeps both syncs pending.
	eventually(t, 10*time.Second, "a failed attempt", func() bool {
		var s client.Sync
		do(t, "GET", hs.URL+"/api/sync/"+first.ID, operator, nil).Decode(t, &s)
		return s.Attempts > 0 || s.Error != ""
	})
	if !strings.Contains(hs.Logs.String(), "HyperSync retrying agent=agent-1") {
		t.Errorf("no retry logged:\n%s", hs.Logs)
	}
	if err := hs.Stop(); err != nil {
		t.Fatal(err)
	}
	hs = startHyperSync(t, cfg, "http://"+addr)
	var list client.SyncList
	do(t, "GET", hs.URL+"/api/sync", operator, nil).Decode(t, &list)
	if list.Pending != 2 || list.Count != 2 {
		t.Fatalf("after a hypersync restart: %+v", list)
	}

	// The orchestrator comes back on its address.
	orch = startOrchestrator(t, cfg, Listen(t, addr))
	s1 := waitSettled(t, hs.URL, first.ID, 15*time.Second)
	s2 := waitSettled(t, hs.URL, second.ID, 15*time.Second)
	if s1.Status != client.SyncApplied || s2.Status != client.SyncApplied || s2.AppliedAt.Before(s1.AppliedAt) {
		t.Errorf("after the orchestrator came back: %+v %+v", s1, s2)
	}
	if s1.LatencyMS < 1 {
		t.Errorf("latency %vms includes the downtime; want more", s1.LatencyMS)
	}
	a, err := orchestratorClient(t, orch.URL).GetAgent(context.Background(), "agent-1")
	if err != nil || a.Hyperparameters.LearningRate != 0.4 {
		t.Errorf("agent: learning_rate %v, %v; want 0.4 (the later sync)", a.Hyperparameters.LearningRate, err)
	}
}

// One agent whose syncs keep failing does not hold up the others.
func TestBusyAgentDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, nil)
	// An agent whose checkpoint is unreadable answers 409 to every change.
	dir := orchestrator.CheckpointDir(cfg)
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "stuck.qtable"), []byte("not a checkpoint"), 0o600)
	orch := startOrchestrator(t, cfg, nil)
	createAgent(t, orch.URL, "free")
	hs := startHyperSync(t, cfg, orch.URL)
	operator := token(t, "otto", "operator")

	var stuck, free client.Sync
	do(t, "POST", hs.URL+"/api/sync", operator, map[string]any{"agent_id": "stuck", "hyperparameters": map[string]float64{"discount": 0.5}}).Decode(t, &stuck)
	r := do(t, "POST", hs.URL+"/api/sync?wait=10s", operator, map[string]any{"agent_id": "free", "hyperparameters": map[string]float64{"discount": 0.5}})
	r.Decode(t, &free)
	if free.Status != client.SyncApplied {
		t.Errorf("free agent's sync: %d %s", r.Code, r.Raw)
	}
	var s client.Sync
	do(t, "GET", hs.URL+"/api/sync/"+stuck.ID, operator, nil).Decode(t, &s)
	if s.Status != client.SyncPending || !strings.Contains(s.Error, "409") {
		t.Errorf("stuck agent's sync: %+v", s)
	}
}

func TestRetainTrimsSettledSyncs(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, nil)
	orch := startOrchestrator(t, cfg, nil)
	createAgent(t, orch.URL, "a")
	s, err := hypersync.New(hypersync.Options{Journal: filepath.Join(t.TempDir(), "j.jsonl"), Orchestrator: orchestratorClient(t, orch.URL), Retain: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for _, d := range []float64{0.90, 0.91, 0.92, 0.93, 0.94, 0.95} {
		_, settled, err := s.Submit(client.SyncRequest{AgentID: "a", Hyperparameters: client.HyperparameterUpdate{Discount: ptr(d)}})
		if err != nil {
			t.Fatal(err)
		}
		<-settled
	}
	if l := s.List(hypersync.Filter{}); l.Count != 3 || *l.Syncs[0].Hyperparameters.Discount != 0.95 {
		t.Errorf("kept %d syncs, newest %+v", l.Count, l.Syncs[0])
	}
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

// BenchmarkSyncApply submits syncs one after another to hypersync, which
// applies each to a running orchestrator on loopback, and reports the
// latency hypersync records (acceptance to the orchestrator's confirmation,
// its checkpoint written): p50 and p95 in ms. Runbook baseline 50-100 ms;
// goal p95 < 20 ms.
func BenchmarkSyncApply(b *testing.B) {
	cfg := testConfig(b, func(c *config.Config) { c.LogLevel = "WARNING" })
	orch := startOrchestrator(b, cfg, nil)
	createAgent(b, orch.URL, "bench")
	hs := startHyperSync(b, cfg, orch.URL)
	c, err := client.New(hs.URL, client.WithToken(token(b, "otto", "operator")))
	if err != nil {
		b.Fatal(err)
	}
	var lat []float64
	i := 0
	for b.Loop() {
		i++
		s, err := c.SubmitSync(context.Background(), client.SyncRequest{AgentID: "bench",
			Hyperparameters: client.HyperparameterUpdate{LearningRate: ptr(0.1 + float64(i%50)/100)}}, 10*time.Second)
		if err != nil || s.Status != client.SyncApplied {
			b.Fatalf("sync %d: %+v %v", i, s, err)
		}
		lat = append(lat, s.LatencyMS)
	}
	slices.Sort(lat)
	b.ReportMetric(percentile(lat, 0.5), "p50-ms")
	b.ReportMetric(percentile(lat, 0.95), "p95-ms")
}

// TestSyncLatencyReport applies 100 syncs and logs the latency
// percentiles; it asserts nothing about time (see BenchmarkSyncApply).
func TestSyncLatencyReport(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, func(c *config.Config) { c.LogLevel = "WARNING" })
	orch := startOrchestrator(t, cfg, nil)
	createAgent(t, orch.URL, "lat")
	hs := startHyperSync(t, cfg, orch.URL)
	c, _ := client.New(hs.URL, client.WithToken(token(t, "otto", "operator")))
	var lat []float64
	for i := range 100 {
		s, err := c.SubmitSync(context.Background(), client.SyncRequest{AgentID: "lat",
			Hyperparameters: client.HyperparameterUpdate{Epsilon: ptr(0.5 + float64(i%10)/100)}}, 10*time.Second)
		if err != nil || s.Status != client.SyncApplied {
			t.Fatalf("sync %d: %+v %v", i, s, err)
		}
		lat = append(lat, s.LatencyMS)
	}
	slices.Sort(lat)
	t.Logf("HyperSync apply latency over %d syncs on loopback: p50 %.2f ms, p95 %.2f ms, max %.2f ms",
		len(lat), percentile(lat, 0.5), percentile(lat, 0.95), lat[len(lat)-1])
}
