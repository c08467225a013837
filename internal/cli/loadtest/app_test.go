package loadtest_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tars-ops/tarsctl/internal/app"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
)

// tarsctl runs the whole program in-process, as cmd/tarsctl does, so that
// exit codes are the ones internal/app really picks.
func tarsctl(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	ios, _, out, errOut := iostreams.Test()
	code = app.Run(ctx, ios, func(string) string { return "" }, args)
	return code, out.String(), errOut.String()
}

func TestLoadtestExitCodes(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"ok", []string{"loadtest", "run", "--url", srv.URL, "-n", "20", "-q"}, 0, ""},
		{"breached", []string{"loadtest", "run", "--url", srv.URL, "-n", "20", "--threshold", "max<1us"}, 1, "error: threshold max<1us breached\n"},
		{"unbounded", []string{"loadtest", "run", "--url", srv.URL}, 2, "hint: run `tarsctl loadtest run --help` for usage\n"},
		{"unreachable", []string{"loadtest", "run", "--url", closed, "-n", "5"}, 3, "hint: is the service running?"},
		{"compare ok", []string{"loadtest", "compare", "testdata/baseline.json", "testdata/current.json"}, 0, ""},
		{"compare regression", []string{"loadtest", "compare", "testdata/baseline.json", "testdata/regressed.json"}, 1, "error: 1 regression against testdata/baseline.json"},
		{"compare bad input", []string{"loadtest", "compare", "testdata/baseline.json", "go.mod"}, 2, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := tarsctl(context.Background(), tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.wantCode, tc.wantStderr)
			}
		})
	}
}

// TestLoadtestInterrupted: Ctrl-C (the app's context cancelled) stops the
// run, the report of what ran is written, and tarsctl exits 130.
func TestLoadtestInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 25 {
			cancel()
		}
	}))
	defer srv.Close()
	report := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := tarsctl(ctx, "loadtest", "run", "--url", srv.URL, "--duration", "1h", "--output-json", report)
	if code != cmdutil.ExitInterrupted {
		t.Errorf("exit %d, want 130; stderr %q", code, stderr)
	}
	data, err := os.ReadFile(report)
	if err != nil || !strings.Contains(string(data), `"interrupted": true`) {
		t.Errorf("report %s (%v)", data, err)
	}
	if !strings.Contains(stdout, "(interrupted)") || !strings.Contains(stderr, "error: interrupted\n") {
		t.Errorf("stdout %q\nstderr %q", stdout, stderr)
	}
}
