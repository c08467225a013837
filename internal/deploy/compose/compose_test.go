package compose

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	composecli "github.com/compose-spec/compose-go/v2/cli"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/testenv/golden"
)

const testImage = "company/tars:1.0.2"

func loadProfile(t *testing.T, profile string) *config.Config {
	t.Helper()
	res, err := config.Load(config.LoadOptions{
		Profile: profile,
		Getenv: func(k string) string {
			if k == "REDIS_PASSWORD" && (profile == "staging" || profile == "production") { // they need it
				return "not-a-real-password"
			}
			return ""
		},
		ReadFile: func(string) ([]byte, error) { return nil, fs.ErrNotExist },
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Config
}

func render(t *testing.T, profile string, env map[string]string) []byte {
	t.Helper()
	data, err := Render(Options{Config: loadProfile(t, profile), Profile: profile, Image: testImage, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestRenderDocker is the docker profile's file, byte for byte.
func TestRenderDocker(t *testing.T) {
	t.Parallel()
	data := render(t, "docker", nil)
	golden.Assert(t, data)
	// Same input, same bytes.
	for range 5 {
		if again := render(t, "docker", nil); string(again) != string(data) {
			t.Fatal("two renders of the same input differ")
		}
	}
}

// TestRenderStructure parses the file back and checks what the runbook's
// stack needs, for every profile that runs with Redis and PostgreSQL.
func TestRenderStructure(t *testing.T) {
	t.Parallel()
	for _, profile := range []string{"docker", "staging", "production", "airgap"} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			data := render(t, profile, map[string]string{"TARS_LOG_LEVEL": "DEBUG"})
			if strings.Contains(string(data), "not-a-real-password") {
				t.Fatal("a secret value was written into the file")
			}
			f, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"dashboard-api", "hypersync", "multi-agent", "postgres", "redis"}
			if got := f.ServiceNames(); !slices.Equal(got, want) {
				t.Fatalf("services = %v, want %v", got, want)
			}
			redis := f.Services["redis"]
			if !strings.Contains(strings.Join(redis.Command, " "), "--appendonly yes") || !slices.Contains(redis.Volumes, "redis-data:/data") {
				t.Errorf("redis: command %q volumes %v", redis.Command, redis.Volumes)
			}
			pg := f.Services["postgres"]
			if pg.Environment["POSTGRES_PASSWORD_FILE"] != "/run/secrets/db_password" || !hasSecret(pg, "db_password") {
				t.Errorf("postgres: env %v secrets %v", pg.Environment, pg.Secrets)
			}
			if f.Secrets["db_password"] == nil || f.Secrets["db_password"].File != "./secrets/db_password" {
				t.Errorf("secrets = %v", f.Secrets)
			}
			cfg := loadProfile(t, profile)
			for _, spec := range services.All() {
				name := ServiceName(spec.Name)
				svc := f.Services[name]
				if svc.Image != testImage || !slices.Equal(svc.Command, []string{"serve", spec.Name}) {
					t.Errorf("%s: image %q command %q", name, svc.Image, svc.Command)
				}
				port := spec.Port(cfg)
				if hc := strings.Join(svc.Healthcheck.Test, " "); !strings.Contains(hc, "tarsctl health http://127.0.0.1:") || !strings.HasSuffix(hc, "/health") {
					t.Errorf("%s: healthcheck %q", name, hc)
				}
				if !slices.Contains(svc.Ports, strconv.Itoa(port)+":"+strconv.Itoa(port)) {
					t.Errorf("%s: ports %v, want %d", name, svc.Ports, port)
				}
				if svc.DependsOn["redis"].Condition != "service_healthy" {
					t.Errorf("%s: depends_on %v", name, svc.DependsOn)
				}
				for _, d := range spec.DependsOn {
					if svc.DependsOn[ServiceName(d)].Condition != "service_healthy" {
						t.Errorf("%s: does not wait for %s: %v", name, d, svc.DependsOn)
					}
				}
				if svc.Environment["TARS_PROFILE"] != profile || svc.Environment["TARS_REDIS_HOST"] != "redis" || svc.Environment["TARS_LOG_LEVEL"] != "DEBUG" {
					t.Errorf("%s: environment %v", name, svc.Environment)
				}
				if !hasSecret(svc, "jwt_secret") {
					t.Errorf("%s: no jwt_secret: %v", name, svc.Secrets)
				}
			}
			api := f.Services["dashboard-api"]
			if api.DependsOn["postgres"].Condition != "service_healthy" || !hasSecret(api, "db_password") || api.Environment["TARS_DATABASE_HOST"] != "postgres" {
				t.Errorf("dashboard-api: %+v", api)
			}
			if f.Services["hypersync"].Environment["TARS_SERVICES_ORCHESTRATION_AGENT_URL"] != "http://multi-agent:8094" {
				t.Errorf("hypersync does not find the orchestrator: %v", f.Services["hypersync"].Environment)
			}
			if profile == "airgap" {
				// Encryption, signing and a Redis password are on there.
				ma := f.Services["multi-agent"]
				for _, s := range []string{"aes_key", "rsa_private_key", "redis_password"} {
					if !hasSecret(ma, s) {
						t.Errorf("airgap multi-agent lacks secret %s: %v", s, ma.Secrets)
					}
				}
				if !hasSecret(redis, "redis_password") || redis.Command[0] != "sh" {
					t.Errorf("airgap redis does not require its password: %q", redis.Command)
				}
			}
		})
	}
}

func hasSecret(s *Service, name string) bool {
	return slices.ContainsFunc(s.Secrets, func(x ServiceSecret) bool { return x.Source == name })
}

// TestRenderValidates loads the file with compose-go, the loader and
// validator that `docker compose config` is built on: the Compose
// specification's JSON schema, interpolation, and the checks between
// services (depends_on, secrets and volumes that exist). `docker compose
// config` itself cannot run here: the docker CLI on this machine has no
// Compose plugin.
func TestRenderValidates(t *testing.T) {
	t.Parallel()
	for _, profile := range []string{"docker", "airgap"} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			file := filepath.Join(dir, "docker-compose.yaml")
			if err := os.WriteFile(file, render(t, profile, nil), 0o644); err != nil {
				t.Fatal(err)
			}
			// Compose checks that secret files exist.
			if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{"db_password", "jwt_secret", "redis_password", "aes.key", "rsa_private.pem"} {
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
			if p.Name != "tars" || len(p.Services) != 5 {
				t.Fatalf("project %q with %d services", p.Name, len(p.Services))
			}
			api := p.Services["dashboard-api"]
			if api.DependsOn["postgres"].Condition != "service_healthy" || api.HealthCheck == nil {
				t.Errorf("dashboard-api as compose sees it: depends_on %v healthcheck %v", api.DependsOn, api.HealthCheck)
			}
		})
	}
}

func TestRenderRejectsIncompleteOptions(t *testing.T) {
	t.Parallel()
	cfg := loadProfile(t, "docker")
	for name, o := range map[string]Options{
		"no config":  {Profile: "docker", Image: testImage},
		"no image":   {Config: cfg, Profile: "docker"},
		"no profile": {Config: cfg, Image: testImage},
	} {
		if _, err := Render(o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestRunnerNoEngine runs the real docker CLI where no engine answers:
// Check must report ErrNoEngine, with docker's reason.
func TestRunnerNoEngine(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/usr/local/bin/docker"); err != nil {
		t.Skip("no docker CLI at /usr/local/bin/docker; TestRunnerNoDocker covers a missing docker")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "no-engine.sock")
	r := &Runner{Docker: "/usr/local/bin/docker", File: "x.yaml", Env: append(os.Environ(), "DOCKER_HOST=unix://"+sock)}
	err := r.Check(context.Background())
	if !errors.Is(err, ErrNoEngine) {
		t.Fatalf("Check = %v, want ErrNoEngine", err)
	}
	if !strings.Contains(err.Error(), sock+" does not exist") {
		t.Errorf("error does not name the missing socket: %v", err)
	}
}

func TestRunnerNoDocker(t *testing.T) {
	t.Parallel()
	r := &Runner{Docker: filepath.Join(t.TempDir(), "docker")}
	if err := r.Check(context.Background()); !errors.Is(err, ErrNoDocker) {
		t.Fatalf("Check = %v, want ErrNoDocker", err)
	}
	if _, err := r.Run(context.Background(), "ps"); !errors.Is(err, ErrNoDocker) {
		t.Fatalf("Run = %v, want ErrNoDocker", err)
	}
}

// TestRunnerPassesExitStatus runs a stand-in docker (a shell script, named
// so) to check argument order and exit-status passing without an engine.
func TestRunnerPassesExitStatus(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fake := filepath.Join(dir, "fake-docker")
	script := "#!/bin/sh\necho \"args: $*\"\necho oops >&2\nexit 7\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	r := &Runner{Docker: fake, File: "/x/docker-compose.yaml", Stdout: &out, Stderr: &errOut}
	code, err := r.Run(context.Background(), "logs", "--follow", "dashboard-api")
	if err != nil || code != 7 {
		t.Fatalf("Run = %d, %v; want 7, nil", code, err)
	}
	if got := out.String(); got != "args: compose -f /x/docker-compose.yaml logs --follow dashboard-api\n" {
		t.Errorf("stdout %q", got)
	}
	if errOut.String() != "oops\n" {
		t.Errorf("stderr %q", errOut.String())
	}
}
