package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/testenv/golden"
)

// run executes tarsctl in-process with test streams and a fixed
// environment.
func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	getenv := func(k string) string { return env[k] }
	code = Run(context.Background(), ios, getenv, args)
	return code, out.String(), errOut.String()
}

func TestConfigValidateBrokenFile(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := run(t, nil, "config", "validate", "testdata/broken.yaml")
	if code != cmdutil.ExitUsage {
		t.Errorf("exit code = %d, want %d", code, cmdutil.ExitUsage)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	golden.Assert(t, []byte(stderr))
}

func TestConfigValidateBrokenFileJSON(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := run(t, nil, "config", "validate", "testdata/broken.yaml", "-o", "json")
	if code != cmdutil.ExitUsage {
		t.Errorf("exit code = %d, want %d", code, cmdutil.ExitUsage)
	}
	var doc struct {
		Valid    bool `json:"valid"`
		Problems []struct {
			Source, Key, Message string
		} `json:"problems"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if doc.Valid || len(doc.Problems) < 10 {
		t.Errorf("valid=%v with %d problems, want invalid with every problem listed", doc.Valid, len(doc.Problems))
	}
	var errLine map[string]any
	if err := json.Unmarshal([]byte(stderr), &errLine); err != nil || errLine["type"] != "error" || errLine["code"] != float64(2) {
		t.Errorf("stderr = %q, want one JSON error line with code 2", stderr)
	}
}

func TestConfigValidateGoodFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := dir + "/good.yaml"
	if err := os.WriteFile(path, []byte("api:\n  port: 4000\nrate_limiting:\n  requests_per_minute: 50\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, nil, "config", "validate", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stdout != "" || !strings.Contains(stderr, "✓ configuration is valid (profile local, file "+path+")") {
		t.Errorf("stdout %q stderr %q", stdout, stderr)
	}
	code, _, stderr = run(t, nil, "config", "validate", path, "--quiet")
	if code != 0 || stderr != "" {
		t.Errorf("--quiet: exit %d, stderr %q; want 0 and nothing", code, stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"unknown command", []string{"bogus"}, `error: unknown command "bogus" for "tarsctl"`},
		{"unknown subcommand suggests", []string{"config", "shwo"}, `did you mean show?`},
		{"unknown flag", []string{"version", "--bogus"}, "error: unknown flag: --bogus"},
		{"bad output", []string{"version", "-o", "yaml"}, `invalid value "yaml" for --output: "tarsctl version" accepts text, json`},
		{"verbose and quiet", []string{"version", "-v", "-q"}, "--verbose and --quiet cannot be used together"},
		{"extra argument", []string{"version", "extra"}, `"tarsctl version" takes no arguments`},
		{"unknown profile", []string{"config", "show", "--profile", "prod"}, `unknown profile "prod"; known profiles: local, docker, staging, production, airgap`},
		{"bad --set key", []string{"config", "show", "--set", "api.prot=1"}, `api.prot: unknown key; did you mean "port"?`},
		{"completion without shell", []string{"completion"}, "needs one shell"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := run(t, nil, tt.args...)
			if code != cmdutil.ExitUsage {
				t.Errorf("exit code = %d, want 2; stderr: %s", code, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.wantStderr)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Errorf("stderr has a stack trace: %s", stderr)
			}
		})
	}
}

func TestConfigShowRedactsSecrets(t *testing.T) {
	t.Parallel()
	env := map[string]string{"TARS_REDIS_PASSWORD": "hunter2-secret", "TARS_AUTH_JWT_SECRET": "jwt-secret-value"}
	for _, format := range []string{"text", "json", "yaml"} {
		code, stdout, stderr := run(t, env, "config", "show", "-o", format)
		if code != 0 {
			t.Fatalf("-o %s: exit %d: %s", format, code, stderr)
		}
		if strings.Contains(stdout+stderr, "hunter2") || strings.Contains(stdout+stderr, "jwt-secret-value") {
			t.Errorf("-o %s leaks a secret:\n%s", format, stdout)
		}
		if !strings.Contains(stdout, config.Redacted) {
			t.Errorf("-o %s does not show the secret as %s:\n%s", format, config.Redacted, stdout)
		}
	}
}

func TestConfigShowJSONSources(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := run(t, map[string]string{"TARS_API_PORT": "4100"}, "config", "show", "-o", "json", "--set", "rate_limiting.requests_per_minute=7", "--profile", "docker")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Profile string            `json:"profile"`
		Config  map[string]any    `json:"config"`
		Sources map[string]string `json:"sources"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	section := func(name string) map[string]any { m, _ := doc.Config[name].(map[string]any); return m }
	if doc.Profile != "docker" || section("api")["port"] != float64(4100) || section("rate_limiting")["requests_per_minute"] != float64(7) {
		t.Errorf("unexpected config: %+v", doc)
	}
	want := map[string]string{"api.port": "env TARS_API_PORT", "rate_limiting.requests_per_minute": "flag --set", "api.workers": "profile docker", "auth.jwt_secret": "default"}
	for k, v := range want {
		if doc.Sources[k] != v {
			t.Errorf("source of %s = %q, want %q", k, doc.Sources[k], v)
		}
	}
}

func TestVersionJSON(t *testing.T) {
	t.Parallel()
	code, stdout, _ := run(t, nil, "version", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var v map[string]string
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "commit", "date", "go_version", "platform"} {
		if v[k] == "" {
			t.Errorf("version JSON lacks %q: %s", k, stdout)
		}
	}
}

func TestHelpExitCodes(t *testing.T) {
	t.Parallel()
	code, stdout, _ := run(t, nil, "help", "exit-codes")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, c := range cmdutil.ExitCodes {
		if !strings.Contains(stdout, fmt.Sprintf("  %-4d %s", c.Code, c.Meaning)) {
			t.Errorf("help exit-codes lacks code %d", c.Code)
		}
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("boom"), 1},
		{cmdutil.ErrSilent, 1},
		{cmdutil.FlagErrorf("bad"), 2},
		{fmt.Errorf("load: %w", &config.ValidationError{}), 2},
		{cmdutil.Unreachable(errors.New("redis down")), 3},
		{fmt.Errorf("dial: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), 3},
		{fmt.Errorf("open key: %w", fs.ErrPermission), 4},
		{cmdutil.PermissionDenied(errors.New("bad token")), 4},
		{fmt.Errorf("wait ready: %w", context.DeadlineExceeded), 6},
		{context.Canceled, 130},
		{cmdutil.WithHint(cmdutil.Timeout(errors.New("slow")), "try again"), 6},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestPrintErrorHints(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	err := cmdutil.WithHint(errors.New("backup \"x\" not found"), "run tarsctl backup list")
	printError(&buf, false, nil, err, 1)
	if want := "error: backup \"x\" not found\nhint: run tarsctl backup list\n"; buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

func TestVerbose(t *testing.T) {
	t.Parallel()
	code, _, stderr := run(t, nil, "config", "show", "-v", "--profile", "docker")
	if code != 0 || !strings.Contains(stderr, "configuration: profile docker, config file none") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = run(t, nil, "config", "validate", "-v", "testdata/broken.yaml")
	if code != 2 || !strings.HasSuffix(stderr, "exit status 2: bad usage or bad input: unknown flag or argument, invalid config file, a confirmation needed without a terminal\n") {
		t.Errorf("exit %d, stderr ends %q", code, stderr[max(0, len(stderr)-120):])
	}
}

// An output file in a directory that does not exist yet is written, the
// directory made on the way, by every command that takes one.
func TestOutputFileCreatesDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	art := dir + "/art.bin"
	if err := os.WriteFile(art, []byte("artifact"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		out  string
		args []string
	}{
		{"slsa generate", dir + "/a/b/p.json", []string{"slsa", "generate", art, "--output", dir + "/a/b/p.json"}},
		{"deploy compose render", dir + "/c/d/compose.yaml", []string{"deploy", "compose", "render", "--output", dir + "/c/d/compose.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := run(t, map[string]string{"HOME": dir}, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			if fi, err := os.Stat(tc.out); err != nil || fi.Size() == 0 {
				t.Errorf("%s: %v", tc.out, err)
			}
		})
	}
}
