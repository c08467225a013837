package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/tars-ops/tarsctl/internal/app"
	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/daemons"
	"github.com/tars-ops/tarsctl/internal/deploy/compose"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

// envSynthetic carries the synthetic entry, as JSON, to the daemon process
// `tarsctl start` launches: this test binary, run as `tarsctl serve NAME`.
const envSynthetic = "TARSCTL_TEST_SYNTHETIC_ENTRY"

func TestMain(m *testing.M) {
	if spec := os.Getenv(envSynthetic); spec != "" && len(os.Args) > 1 && os.Args[1] == "serve" {
		// Started by the supervisor: be tarsctl, with the synthetic daemon
		// in the catalog and implemented.
		var e services.Entry
		if err := json.Unmarshal([]byte(spec), &e); err != nil {
			fmt.Fprintln(os.Stderr, "synthetic entry:", err)
			os.Exit(2)
		}
		services.TestOnlyRegister(exitTB{}, e)
		daemons.TestOnlyRegister(exitTB{}, e.Name, syntheticDaemon(e.Name))
		os.Exit(app.Main())
	}
	os.Exit(testenv.Main(m))
}

// exitTB is the TB of the daemon process: a failure ends it.
type exitTB struct{}

func (exitTB) Helper()        {}
func (exitTB) Cleanup(func()) {}
func (exitTB) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}

// syntheticDaemon is a real daemon with nothing of its own: the shared
// server, /health (disk space), /ready and /metrics on its catalog port.
func syntheticDaemon(name string) daemons.Run {
	return func(ctx context.Context, o daemons.Options) error {
		cfg, log := o.Config, o.Logger
		if err := os.MkdirAll(cfg.Paths.DataDirPath(), 0o750); err != nil {
			return err
		}
		ln, tlsCfg, err := services.Listen(cfg, name, nil)
		if err != nil {
			return err
		}
		log.Info("Starting " + name + " on " + ln.Addr().String())
		return daemon.Run(ctx, daemon.Options{
			Service: name, Version: "test", Listener: ln, Handler: http.NotFoundHandler(), TLS: tlsCfg,
			Registry: daemon.NewRegistry(name, "test"), Logger: log, DrainTimeout: cfg.API.DrainTimeout,
			Checks: []daemon.Check{daemon.DiskSpaceCheck(cfg.Paths.DataDirPath(), 1)},
		})
	}
}

// outputs are what the commands that derive from the catalog print.
type outputs struct {
	template, compose, status, triage string
}

// tarsctl runs one command line of the real command tree in this process
// (the Kubernetes commands with the companion's in-process runner) and
// returns its exit code and stdout.
func tarsctl(t *testing.T, home string, args ...string) (int, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	args = append(args, "--profile", "local", "--set", "paths.home="+home)
	// Not t.Context(): the cleanup's stop runs after it is cancelled.
	code := app.Run(context.Background(), ios, func(string) string { return "" }, args)
	t.Logf("tarsctl %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	return code, out.String()
}

func collect(t *testing.T, home string) outputs {
	t.Helper()
	var o outputs
	_, o.template = tarsctl(t, home, "deploy", "k8s", "template")
	_, o.compose = tarsctl(t, home, "deploy", "compose", "render", "--output", "-")
	_, o.status = tarsctl(t, home, "status", "-o", "json")
	_, o.triage = tarsctl(t, home, "triage", "run", "--check", "service", "-o", "json")
	return o
}

// problems says where the outputs do not show e running as its catalog
// entry says: its StatefulSet in the chart, its container in the Compose
// file, its row in status (running and healthy when running is set) and
// its check in triage.
func problems(o outputs, e services.Entry, running bool) []string {
	var p []string
	found := false
	for _, doc := range strings.Split(o.template, "\n---") {
		var m struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if yaml.Unmarshal([]byte(doc), &m) == nil && m.Kind == string(e.Kind) && m.Metadata.Name == e.Name {
			found = true
		}
	}
	if !found {
		p = append(p, fmt.Sprintf("deploy k8s template: no %s %s", e.Kind, e.Name))
	}
	if f, err := compose.Parse([]byte(o.compose)); err != nil {
		p = append(p, "deploy compose render: "+err.Error())
	} else if svc := f.Services[e.ComposeService()]; svc == nil || strings.Join(svc.Command, " ") != "serve "+e.Name {
		p = append(p, fmt.Sprintf("deploy compose render: no service %s running serve %s", e.ComposeService(), e.Name))
	}
	var rows []struct{ Service, State, Health string }
	if err := json.Unmarshal([]byte(o.status), &rows); err != nil {
		p = append(p, "status: "+err.Error())
	}
	found = false
	for _, r := range rows {
		if r.Service == e.Name && (!running || (r.State == "running" && r.Health == "healthy")) {
			found = true
		}
	}
	if !found {
		p = append(p, fmt.Sprintf("status: no row for %s (running: %v): %v", e.Name, running, rows))
	}
	var rep struct {
		Checks []struct{ Check, Status string }
	}
	if err := json.Unmarshal([]byte(o.triage), &rep); err != nil {
		p = append(p, "triage: "+err.Error())
	}
	found = false
	for _, c := range rep.Checks {
		if c.Check == "service/"+e.Name && (!running || c.Status == "ok") {
			found = true
		}
	}
	if !found {
		p = append(p, fmt.Sprintf("triage: no check service/%s (running: %v): %v", e.Name, running, rep.Checks))
	}
	return p
}

// TestCatalogEntryReachesEveryOutput registers a daemon in the catalog,
// and nowhere else, runs it with `tarsctl start` (a real process, this
// binary as `tarsctl serve NAME`), and finds it in `deploy k8s template`
// (the companion's in-process Helm), `deploy compose render`, `status`
// and `triage run`; `logs` reads its log and `stop` stops it. The planted
// subtest runs the same commands with the entry gone, as a hard-coded
// list of daemons would have it, and the same check fails. Not parallel:
// it changes the process's catalog and environment.
func TestCatalogEntryReachesEveryOutput(t *testing.T) {
	k8srunner.Set(newRunner())
	t.Cleanup(func() { k8srunner.Set(nil) })
	home := t.TempDir()
	synthetic := services.Entry{
		Name: "synthetic-probe", Aliases: []string{"probe"}, Summary: "test-only consensus member",
		APIPort: testenv.FreePort(t), PeerPort: testenv.FreePort(t), Kind: services.StatefulSet,
		DependsOn: []string{services.HyperSync}, LogName: "probe-daemon",
		Health:  services.Health{Checks: []string{"disk_space"}},
		Compose: services.Compose{Service: "probe"},
	}
	spec, err := json.Marshal(synthetic)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("registered", func(t *testing.T) {
		services.TestOnlyRegister(t, synthetic)
		t.Setenv(envSynthetic, string(spec))
		t.Cleanup(func() { tarsctl(t, home, "stop", "--all", "--timeout", "5s") })
		if code, _ := tarsctl(t, home, "start", "probe"); code != 0 {
			t.Fatalf("start probe: exit %d", code)
		}
		o := collect(t, home)
		if p := problems(o, synthetic, true); p != nil {
			t.Fatalf("the registered entry is missing:\n  %s", strings.Join(p, "\n  "))
		}
		if code, out := tarsctl(t, home, "logs", "probe"); code != 0 || !strings.Contains(out, "Starting synthetic-probe on ") {
			t.Errorf("logs probe: exit %d\n%s", code, out)
		}
		if _, err := os.Stat(filepath.Join(home, "logs", "probe-daemon.log")); err != nil {
			t.Errorf("the daemon does not log to its catalog log name: %v", err)
		}
		if code, out := tarsctl(t, home, "stop", "synthetic-probe", "-o", "json"); code != 0 || !bytes.Contains([]byte(out), []byte(`"synthetic-probe"`)) {
			t.Errorf("stop: exit %d\n%s", code, out)
		}
	})
	t.Run("planted: the outputs without the entry", func(t *testing.T) {
		p := problems(collect(t, home), synthetic, false)
		if len(p) != 4 {
			t.Fatalf("the check found %d of 4 outputs lacking the entry: %v", len(p), p)
		}
	})
}
