package compose

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/deploy/compose"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestNewCmdFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cmd      func(*cmdutil.Factory, *[]string) *cobra.Command
		args     []string
		tty      bool
		wantErr  string
		wantArgs string
	}{
		{"up waits by default", up, nil, false, "", "up --detach --wait"},
		{"up --no-wait", up, []string{"--no-wait", "redis"}, false, "", "up --detach redis"},
		{"up --attach", up, []string{"--attach"}, false, "", "up"},
		{"up --attach --no-wait", up, []string{"--attach", "--no-wait"}, false, "cannot be used together", ""},
		{"down", down, nil, false, "", "down"},
		{"down --volumes needs --yes", down, []string{"--volumes"}, false, "needs --yes", ""},
		{"down --volumes --yes", down, []string{"--volumes", "--yes"}, false, "", "down --volumes"},
		{"down --yes alone", down, []string{"--yes"}, false, "--yes is for --volumes", ""},
		{"ps", ps, []string{"-a", "dashboard-api"}, false, "", "ps --all dashboard-api"},
		{"logs -f is follow", logs, []string{"-f", "dashboard-api"}, false, "", "logs --follow dashboard-api"},
		{"logs --tail", logs, []string{"--tail", "10"}, false, "", "logs --tail 10"},
		{"logs bad --tail", logs, []string{"--tail", "-5"}, false, "--tail -5", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			ios.SetStdinTTY(tt.tty)
			ios.SetStdoutTTY(tt.tty)
			ios.SetStderrTTY(tt.tty)
			f := &cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{Output: "text"}}
			var got []string
			cmd := tt.cmd(f, &got)
			cmd.SetArgs(tt.args)
			cmd.SetOut(ios.ErrOut)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || cmdutil.ExitCode(err) != 2 {
					t.Fatalf("err = %v (exit %d), want a usage error with %q", err, cmdutil.ExitCode(err), tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != tt.wantArgs {
				t.Errorf("docker compose args %q, want %q", strings.Join(got, " "), tt.wantArgs)
			}
		})
	}
}

// TestDownVolumesAsks: on a terminal, down --volumes asks first; only a
// yes runs docker compose, and an unanswered question is an error.
func TestDownVolumesAsks(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		stdin    string
		wantCode int
		wantArgs string
	}{
		{"y\n", 0, "down --volumes"},
		{"n\n", 1, ""},
		{"", 1, ""}, // EOF: no answer
	} {
		ios, stdin, _, stderr := iostreams.Test()
		stdin.WriteString(tt.stdin)
		ios.SetStdinTTY(true)
		ios.SetStderrTTY(true)
		var got []string
		cmd := down(&cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{Output: "text"}}, &got)
		cmd.SetArgs([]string{"--volumes"})
		cmd.SetOut(ios.ErrOut)
		cmd.SetErr(ios.ErrOut)
		err := cmd.Execute()
		if cmdutil.ExitCode(err) != tt.wantCode || strings.Join(got, " ") != tt.wantArgs {
			t.Errorf("answer %q: err %v, args %q; want exit %d, args %q", tt.stdin, err, got, tt.wantCode, tt.wantArgs)
		}
		if !strings.Contains(stderr.String(), "Delete the volumes of docker-compose.yaml (Redis, PostgreSQL and daemon data)? [y/N] ") {
			t.Errorf("answer %q: stderr %q", tt.stdin, stderr.String())
		}
	}
}

func capture(got *[]string) func(context.Context, *RunOptions) error {
	return func(_ context.Context, o *RunOptions) error {
		if o.File != DefaultFile {
			return errors.New("file " + o.File)
		}
		*got = o.Args
		return nil
	}
}
func up(f *cmdutil.Factory, got *[]string) *cobra.Command   { return NewCmdUp(f, capture(got)) }
func down(f *cmdutil.Factory, got *[]string) *cobra.Command { return NewCmdDown(f, capture(got)) }
func ps(f *cmdutil.Factory, got *[]string) *cobra.Command   { return NewCmdPs(f, capture(got)) }
func logs(f *cmdutil.Factory, got *[]string) *cobra.Command { return NewCmdLogs(f, capture(got)) }

func configResult(t *testing.T, set []string) func() (*config.Result, error) {
	return func() (*config.Result, error) {
		return config.Load(config.LoadOptions{
			Profile:  "docker",
			Set:      set,
			Getenv:   func(string) string { return "" },
			ReadFile: func(string) ([]byte, error) { return nil, fs.ErrNotExist },
		})
	}
}

func TestRenderRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "docker-compose.yaml")
	ios, _, out, errOut := iostreams.Test()
	opts := &RenderOptions{IO: ios, ConfigResult: configResult(t, []string{"log_level=DEBUG", "auth.jwt_secret=not-a-real-secret"}), File: file, Image: "company/tars:1.0.2"}
	if err := renderRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "not-a-real-secret") {
		t.Fatal("a literal secret was written into the file")
	}
	f, err := compose.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if f.Services["dashboard-api"].Environment["TARS_LOG_LEVEL"] != "DEBUG" {
		t.Errorf("--set log_level did not reach the containers: %v", f.Services["dashboard-api"].Environment)
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q", out)
	}
	want := "! auth.jwt_secret is a literal secret and was not written into the file: set it as file:/run/secrets/NAME (or env:NAME) to pass it on\n✓ Wrote " + file + " (profile docker, image company/tars:1.0.2)\n"
	if errOut.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, want)
	}

	// A second render refuses to overwrite, --force replaces.
	err = renderRun(context.Background(), opts)
	if cmdutil.ExitCode(err) != 2 || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("overwrite: %v (exit %d)", err, cmdutil.ExitCode(err))
	}
	opts.Force = true
	if err := renderRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}

	// "-" is stdout, byte for byte the file.
	ios2, _, out2, _ := iostreams.Test()
	opts2 := *opts
	opts2.IO, opts2.File = ios2, "-"
	if err := renderRun(context.Background(), &opts2); err != nil {
		t.Fatal(err)
	}
	if out2.String() != string(data) {
		t.Error("--output - differs from the file")
	}
}

// TestNoEngineExit3 runs the real tarsctl binary with the real docker CLI
// of this machine, which has no Docker engine: every verb that runs docker
// compose exits 3 with the reason; without docker at all, too.
func TestNoEngineExit3(t *testing.T) {
	t.Parallel()
	bin := testenv.Tarsctl(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "docker-compose.yaml")
	if out, err := exec.Command(bin, "deploy", "compose", "render", "--output", file).CombinedOutput(); err != nil {
		t.Fatalf("render: %v\n%s", err, out)
	}
	_, lookErr := exec.LookPath("docker")
	for _, tc := range []struct {
		name    string
		env     []string
		wantMsg string
	}{
		{"no engine", []string{"PATH=" + os.Getenv("PATH"), "DOCKER_HOST=unix://" + filepath.Join(dir, "docker.sock")}, "no Docker engine is reachable"},
		{"no docker", []string{"PATH=" + dir}, "the docker command was not found"},
	} {
		if tc.name == "no engine" && lookErr != nil {
			t.Logf("no docker CLI in PATH: the no-engine case needs one (this machine has /usr/local/bin/docker)")
			continue
		}
		for _, verb := range [][]string{{"up"}, {"down"}, {"ps"}, {"logs", "dashboard-api"}} {
			args := append([]string{"deploy", "compose"}, verb...)
			args = append(args, "--file", file)
			cmd := exec.Command(bin, args...)
			cmd.Env = tc.env
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 3 {
				t.Errorf("%s: %v: err %v, want exit 3\n%s", tc.name, verb, err, out)
				continue
			}
			if !strings.Contains(string(out), tc.wantMsg) || !strings.Contains(string(out), "hint:") {
				t.Errorf("%s: %v: output lacks %q and a hint:\n%s", tc.name, verb, tc.wantMsg, out)
			}
		}
	}
	// A missing file is a usage error, before docker is asked.
	out, err := exec.Command(bin, "deploy", "compose", "ps", "--file", filepath.Join(dir, "nope.yaml")).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "does not exist") {
		t.Errorf("missing file: %v\n%s", err, out)
	}
}
