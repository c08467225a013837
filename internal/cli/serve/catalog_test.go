package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

// A daemon in the catalog is one serve completes; one tarsctl cannot run
// is refused with that said (internal/daemons checks that none is left
// without an implementation). Not parallel: it changes the catalog.
func TestServeFollowsTheCatalog(t *testing.T) {
	services.TestOnlyRegister(t, services.Entry{Name: "synthetic-daemon", APIPort: 18971, Kind: services.Deployment})
	ios, _, _, _ := iostreams.Test()
	cmd := NewCmdServe(&cmdutil.Factory{IOStreams: ios}, nil)
	if names, _ := cmd.ValidArgsFunction(cmd, nil, ""); !slices.Contains(names, "synthetic-daemon") {
		t.Errorf("serve completes %v", names)
	}
	err := Run(t.Context(), &Options{Service: "synthetic-daemon"})
	if err == nil || !strings.Contains(err.Error(), "has no implementation") {
		t.Errorf("serve synthetic-daemon: %v", err)
	}
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
