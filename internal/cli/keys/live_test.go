package keys

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/keys"
	"github.com/tars-ops/tarsctl/internal/testenv"
	"github.com/tars-ops/tarsctl/pkg/client"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// A real orchestrator daemon serves encrypted checkpoints while
// `tarsctl keys rotate aes --retire-old` rotates its key: it is never
// restarted, never fails a request, holds every key the files on disk
// need at each phase, seals new checkpoints with the new key from the
// switch on, and after the rotation (and a restart) reads everything
// with the new key alone; the old key file is gone.
func TestRotateAESWithRunningOrchestrator(t *testing.T) {
	t.Parallel()
	bin := testenv.Tarsctl(t)
	home := t.TempDir()
	keyDir := filepath.Join(home, "keys")
	oldKey, newKey := filepath.Join(keyDir, "aes.key"), filepath.Join(keyDir, "aes-new.key")
	port := testenv.FreePort(t)
	common := []string{"--profile", "local",
		"--set", "paths.home=" + home,
		"--set", fmt.Sprintf("api.port=%d", testenv.FreePort(t)),
		"--set", fmt.Sprintf("services.orchestration_agent.port=%d", port),
		"--set", fmt.Sprintf("services.hypersync.port=%d", testenv.FreePort(t)),
		"--set", "rate_limiting.enabled=false",
		"--set", "encryption.enabled=true",
		"--set", "encryption.key_file=" + oldKey,
	}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(bin, append(args, common...)...)
		cmd.Env = append(os.Environ(), "HOME="+home, "NO_COLOR=1")
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errOut.String()
	}
	mustRun := func(args ...string) string {
		t.Helper()
		code, out, errOut := run(args...)
		if code != 0 {
			t.Fatalf("tarsctl %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	mustRun("keys", "generate", "aes", "--out", oldKey)
	mustRun("start", "orchestration-agent")
	t.Cleanup(func() { run("stop", "--all", "--timeout", "5s") })
	pidBefore := mustRun("status", "orchestration-agent", "-o", "json")

	ctx := context.Background()
	c, err := client.New(fmt.Sprintf("http://127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	ckptDir := filepath.Join(home, "data", "orchestrator", "agents")
	for i := range 6 {
		seed := uint64(i + 1)
		if _, err := c.Train(ctx, fmt.Sprintf("pre-%d", i), client.TrainRequest{Episodes: 2, Seed: &seed}); err != nil {
			t.Fatal(err)
		}
	}
	oldID, _ := keys.FileKeyID(filepath.Join(ckptDir, "pre-0.qtable"))
	mustRun("keys", "generate", "aes", "--out", newKey)
	nk, err := keys.LoadAESKey(newKey)
	if err != nil {
		t.Fatal(err)
	}
	newID := crypto.KeyID(nk)

	// Load during the rotation: training (checkpoint writes) and reads.
	stop := make(chan struct{})
	var (
		wg       sync.WaitGroup
		requests atomic.Int64
		mu       sync.Mutex
		failures []string
	)
	fail := func(s string) { mu.Lock(); failures = append(failures, s); mu.Unlock() }
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("pre-%d", i%6)
			if i%3 == 2 {
				id = fmt.Sprintf("during-%d", i)
			}
			seed := uint64(100 + i)
			req := client.TrainRequest{Episodes: 1}
			if strings.HasPrefix(id, "during-") {
				req.Seed = &seed
			}
			if _, err := c.Train(ctx, id, req); err != nil {
				fail("train " + id + ": " + err.Error())
			}
			list, err := c.ListAgents(ctx)
			if err != nil {
				fail("list: " + err.Error())
			}
			for _, a := range list {
				if a.Status == client.AgentError {
					fail("agent " + a.ID + " unreadable")
				}
			}
			requests.Add(2)
		}
	})
	code, out, errOut := run("keys", "rotate", "aes", "--old-key", oldKey, "--new-key", newKey, "--yes", "--retire-old")
	close(stop)
	wg.Wait()
	if code != 0 {
		t.Fatalf("rotate: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, phase := range []string{"expand", "switch", "contract"} {
		if !strings.Contains(errOut, phase+": the orchestrator (pid ") {
			t.Errorf("rotation did not report the orchestrator's reload at %s:\n%s", phase, errOut)
		}
	}
	t.Logf("%d requests during the rotation", requests.Load())
	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed during the rotation: %v", len(failures), requests.Load(), failures)
	}
	if _, err := os.Stat(oldKey); !os.IsNotExist(err) {
		t.Errorf("old key file still there: %v", err)
	}
	if got := mustRun("status", "orchestration-agent", "-o", "json"); pidOf(got) != pidOf(pidBefore) {
		t.Errorf("the orchestrator was restarted: %s → %s", pidBefore, got)
	}

	// Every checkpoint, old and written during the rotation, is sealed with
	// the new key; new ones after the rotation too.
	seed := uint64(999)
	if _, err := c.Train(ctx, "after", client.TrainRequest{Episodes: 1, Seed: &seed}); err != nil {
		t.Fatal(err)
	}
	checkAllNew := func() {
		t.Helper()
		entries, _ := os.ReadDir(ckptDir)
		n := 0
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			n++
			if id, err := keys.FileKeyID(filepath.Join(ckptDir, e.Name())); err != nil || id != newID {
				t.Errorf("%s: key %s (%v), want the new key %s (old %s)", e.Name(), id, err, newID, oldID)
			}
		}
		if n < 8 {
			t.Errorf("only %d checkpoints", n)
		}
	}
	checkAllNew()

	logs, _ := os.ReadFile(filepath.Join(home, "logs", "multi-agent.log"))
	for _, want := range []string{
		"AES key loaded key_id=" + newID + " role=decrypt-only",
		"AES key loaded key_id=" + newID + " role=primary",
		"Reload complete",
	} {
		if !strings.Contains(string(logs), want) {
			t.Errorf("orchestrator log lacks %q", want)
		}
	}

	// A restart reads everything with the new key alone (the old key file
	// is gone, encryption.key_file still names it: the state file wins).
	mustRun("stop", "orchestration-agent")
	mustRun("start", "orchestration-agent")
	list, err := c.ListAgents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range list {
		if a.Status == client.AgentError {
			t.Errorf("after restart, agent %s is unreadable", a.ID)
		}
	}
	if len(list) < 8 {
		t.Errorf("after restart, %d agents", len(list))
	}
	if code, out, _ := run("health", "orchestration-agent"); code != 0 {
		t.Errorf("health after restart: %d %s", code, out)
	}
}

// pidOf pulls "pid":N out of status -o json.
func pidOf(statusJSON string) string {
	i := strings.Index(statusJSON, `"pid":`)
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(statusJSON[i+6:], " ")
	j := strings.IndexAny(rest, ",}\n")
	if j < 0 {
		return rest
	}
	return rest[:j]
}
