package compose

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	composecli "github.com/compose-spec/compose-go/v2/cli"

	"github.com/tars-ops/tarsctl/internal/services"
)

// synthetic is a test-only daemon that nothing but the catalog knows: a
// consensus member with a peer port, an alias, Compose settings of its
// own, that uses Redis but not the database.
var synthetic = services.Entry{
	Name: "synthetic-quorum", Aliases: []string{"quorum"}, Summary: "test-only consensus member",
	APIPort: 18981, PeerPort: 18982, Kind: services.StatefulSet, DependsOn: []string{services.HyperSync},
	Health: services.Health{Checks: []string{"disk_space", "redis"}, Needs: []services.Server{services.ServerRedis}},
	Compose: services.Compose{Service: "quorum", Volumes: []string{"quorum-raft:/var/lib/tars/raft"},
		Env: map[string]string{"TARS_LOG_LEVEL": "DEBUG"}, StartPeriod: "30s"},
}

// daemonProblems says how f's container for e falls short of what the
// catalog entry asks for; nil when it does not.
func daemonProblems(f *File, e services.Entry) []string {
	svc, ok := f.Services[e.ComposeService()]
	if !ok {
		return []string{fmt.Sprintf("no service %q for %s (services: %v)", e.ComposeService(), e.Name, f.ServiceNames())}
	}
	var p []string
	if !slices.Equal(svc.Command, []string{"serve", e.Name}) {
		p = append(p, fmt.Sprintf("command %q", svc.Command))
	}
	want := []string{fmt.Sprintf("%d:%d", e.APIPort, e.APIPort)}
	if e.PeerPort != 0 {
		want = append(want, fmt.Sprintf("%d:%d", e.PeerPort, e.PeerPort))
	}
	if !slices.Equal(svc.Ports, want) {
		p = append(p, fmt.Sprintf("ports %v, want %v", svc.Ports, want))
	}
	for _, v := range e.Compose.Volumes {
		name, _, _ := strings.Cut(v, ":")
		if !slices.Contains(svc.Volumes, v) || f.Volumes[name] == nil {
			p = append(p, fmt.Sprintf("volume %s not mounted or not declared", v))
		}
	}
	for k, v := range e.Compose.Env {
		if svc.Environment[k] != v {
			p = append(p, fmt.Sprintf("environment %s=%q, want %q", k, svc.Environment[k], v))
		}
	}
	if e.Compose.StartPeriod != "" && svc.Healthcheck.StartPeriod != e.Compose.StartPeriod {
		p = append(p, "start_period "+svc.Healthcheck.StartPeriod)
	}
	for _, d := range e.DependsOn {
		if svc.DependsOn[ServiceName(d)].Condition != "service_healthy" {
			p = append(p, "does not wait for "+d)
		}
	}
	if _, ok := svc.DependsOn[Postgres]; ok != e.Uses(services.ServerDatabase) {
		p = append(p, fmt.Sprintf("waits for postgres: %v, uses the database: %v", ok, e.Uses(services.ServerDatabase)))
	}
	if _, ok := svc.DependsOn[Redis]; ok != e.Uses(services.ServerRedis) {
		p = append(p, fmt.Sprintf("waits for redis: %v, uses Redis: %v", ok, e.Uses(services.ServerRedis)))
	}
	if hasSecret(svc, "db_password") != e.Uses(services.ServerDatabase) {
		p = append(p, "db_password mounted into a daemon that does not use the database, or missing")
	}
	return p
}

// A daemon registered in the catalog, and nowhere else, gets its container
// with everything its entry says; compose-go accepts the file. Not
// parallel: it changes the catalog for the package.
func TestRenderCatalogEntry(t *testing.T) {
	t.Run("registered", func(t *testing.T) {
		services.TestOnlyRegister(t, synthetic)
		data := render(t, "docker", nil)
		f, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		if p := daemonProblems(f, synthetic); p != nil {
			t.Fatalf("%s in the rendered file:\n  %s", synthetic.Name, strings.Join(p, "\n  "))
		}
		// The real daemons are unchanged.
		for _, e := range services.All() {
			if p := daemonProblems(f, e); p != nil {
				t.Errorf("%s: %v", e.Name, p)
			}
		}
		if !slices.Contains(StackServices(), "quorum") {
			t.Errorf("StackServices() = %v", StackServices())
		}
		dir := t.TempDir()
		file := filepath.Join(dir, "docker-compose.yaml")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"db_password", "jwt_secret"} {
			if err := os.WriteFile(filepath.Join(dir, "secrets", s), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		opts, err := composecli.NewProjectOptions([]string{file}, composecli.WithWorkingDirectory(dir), composecli.WithResolvedPaths(true))
		if err != nil {
			t.Fatal(err)
		}
		p, err := opts.LoadProject(context.Background())
		if err != nil {
			t.Fatalf("compose-go rejects the file: %v", err)
		}
		if q, ok := p.Services["quorum"]; !ok || len(q.Ports) != 2 {
			t.Errorf("compose-go sees quorum as %+v", q)
		}
	})
	// The check is not vacuous: a file rendered without the entry (what a
	// hard-coded list of daemons would give) fails it.
	t.Run("planted: rendered without the entry", func(t *testing.T) {
		f, err := Parse(render(t, "docker", nil))
		if err != nil {
			t.Fatal(err)
		}
		if p := daemonProblems(f, synthetic); len(p) == 0 || !strings.Contains(p[0], `no service "quorum"`) {
			t.Fatalf("the check passed on a file without the daemon: %v", p)
		}
	})
}
