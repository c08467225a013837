package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/daemons"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

// checkImplementations reports the catalog entries without an
// implementation and the implementations without an entry.
func checkImplementations(names, impls []string) error {
	var problems []string
	for _, n := range names {
		if !slices.Contains(impls, n) {
			problems = append(problems, n+" is in the service catalog but has no implementation in internal/daemons")
		}
	}
	for _, n := range impls {
		if !slices.Contains(names, n) {
			problems = append(problems, n+" is implemented in internal/daemons but not in the service catalog")
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// Every daemon of the catalog has an implementation, and every
// implementation is a daemon of the catalog. The subtests plant a
// violation each way. Not parallel: they change the process's catalog.
func TestEveryEntryIsImplemented(t *testing.T) {
	if err := checkImplementations(services.Names(), daemons.Implemented()); err != nil {
		t.Fatal(err)
	}
	t.Run("planted entry without implementation", func(t *testing.T) {
		services.TestOnlyRegister(t, services.Entry{Name: "synthetic-daemon", APIPort: 18971, Kind: services.Deployment})
		err := checkImplementations(services.Names(), daemons.Implemented())
		if err == nil || !strings.Contains(err.Error(), "synthetic-daemon is in the service catalog but has no implementation") {
			t.Fatalf("err = %v", err)
		}
		ios, _, _, _ := iostreams.Test()
		cmd := NewCmdServe(&cmdutil.Factory{IOStreams: ios}, nil)
		if names, _ := cmd.ValidArgsFunction(cmd, nil, ""); !slices.Contains(names, "synthetic-daemon") {
			t.Errorf("serve completes %v", names)
		}
		err = Run(t.Context(), &Options{Service: "synthetic-daemon"})
		if err == nil || !strings.Contains(err.Error(), "has no implementation") {
			t.Errorf("serve synthetic-daemon: %v", err)
		}
	})
	t.Run("planted implementation without entry", func(t *testing.T) {
		daemons.TestOnlyRegister(t, "retired-daemon", func(context.Context, daemons.Options) error { return nil })
		err := checkImplementations(services.Names(), daemons.Implemented())
		if err == nil || !strings.Contains(err.Error(), "retired-daemon is implemented") {
			t.Fatalf("err = %v", err)
		}
	})
}

// Each daemon's /health reports the checks its catalog entry lists, when
// the servers it needs are configured (a real redis-server here; the
// database is the embedded one, which dashboard-api reports too).
func TestHealthChecksAreTheCatalogs(t *testing.T) {
	t.Parallel()
	redis := testenv.Redis(t)
	for _, e := range services.All() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			p := startService(t, e.Name, "--set", "redis.enabled=true", "--set", "redis.host=127.0.0.1",
				"--set", fmt.Sprintf("redis.port=%d", redis.Port))
			resp, err := http.Get("http://" + p.addr + "/health")
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Status string            `json:"status"`
				Checks map[string]string `json:"checks"`
			}
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for c := range body.Checks {
				got = append(got, c)
			}
			want := slices.Clone(e.Health.Checks)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("/health reports %v (%s), the catalog lists %v", got, body.Status, want)
			}
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			if err := <-p.done; err != nil {
				t.Errorf("exit after SIGTERM: %v; logs:\n%s", err, p.Logs())
			}
		})
	}
}
