package testenv_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/testenv"
)

// helperEnv selects what TestHelperProcess does in a child test binary.
const helperEnv = "TESTENV_SELFTEST_HELPER"

func TestMain(m *testing.M) {
	if strings.HasPrefix(os.Getenv(helperEnv), "nomain-") {
		// A child started by runHelper that plays a package which forgot
		// testenv.Main.
		os.Exit(m.Run())
	}
	os.Exit(testenv.Main(m))
}

// TestHelperProcess does nothing in a normal run. In a child test binary
// started by runHelper it does what $TESTENV_SELFTEST_HELPER says.
func TestHelperProcess(t *testing.T) {
	switch mode := os.Getenv(helperEnv); mode {
	case "":
		return
	case "nomain-shared-redis":
		testenv.SharedRedis(t)
		t.Error("SharedRedis returned without testenv.Main")
	case "nomain-shared-postgres":
		testenv.SharedPostgres(t)
		t.Error("SharedPostgres returned without testenv.Main")
	case "postgres":
		testenv.Postgres(t)
		t.Error("Postgres returned")
	case "shared":
		r, p := testenv.SharedRedis(t), testenv.SharedPostgres(t)
		fmt.Printf("redis %s %s\n", r.Addr, r.Dir)
		fmt.Printf("postgres %s %s\n", net.JoinHostPort(p.Host, strconv.Itoa(p.Port)), p.DataDir)
	default:
		t.Fatalf("unknown %s=%q", helperEnv, mode)
	}
}

// runHelper runs TestHelperProcess in a child test binary with mode and the
// extra environment, and returns its output. It fails t unless the child
// failed (wantFail) or passed (!wantFail).
func runHelper(t *testing.T, mode string, wantFail bool, env ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode}, env...)...)
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if failed := errors.As(err, &exitErr); failed != wantFail || (err != nil && !failed) {
		t.Fatalf("helper %s: err=%v, want failed=%v; output:\n%s", mode, err, wantFail, out)
	}
	return string(out)
}

func TestSharedWithoutMainFails(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"nomain-shared-redis", "nomain-shared-postgres"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			out := runHelper(t, mode, true)
			if want := "os.Exit(testenv.Main(m))"; !strings.Contains(out, want) {
				t.Errorf("output does not mention %q:\n%s", want, out)
			}
		})
	}
}

// TestMainStopsSharedServers runs a test binary that starts the shared
// servers and checks that they are gone, directories and all, once it
// exits. Without Main the kernel would kill them (Pdeathsig) but leave their
// directories.
func TestMainStopsSharedServers(t *testing.T) {
	t.Parallel()
	out := runHelper(t, "shared", false)
	found := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || (f[0] != "redis" && f[0] != "postgres") {
			continue
		}
		found++
		checkStopped(t, f[1])
		if _, err := os.Stat(f[2]); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s directory %s still there after the test binary ended: %v", f[0], f[2], err)
		}
	}
	if found != 2 {
		t.Fatalf("helper output lacks the servers:\n%s", out)
	}
}

func TestMissingPostgresFails(t *testing.T) {
	t.Parallel()
	out := runHelper(t, "postgres", true, "PG_BIN="+t.TempDir())
	for _, want := range []string{"PG_BIN=", "make test", "apt-get install -y postgresql-15"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not mention %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SKIP") {
		t.Errorf("a missing binary must fail the test, not skip it:\n%s", out)
	}
}
