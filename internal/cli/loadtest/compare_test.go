package loadtest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/testenv/golden"
)

func TestNewCmdCompare(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, args    string
		wantTolerance float64
		wantErr       string
	}{
		{name: "default tolerance", args: "a.json b.json", wantTolerance: 0.10},
		{name: "tolerance", args: "a.json b.json --tolerance 2.5%", wantTolerance: 0.025},
		{name: "one report", args: "a.json", wantErr: "needs two reports: OLD.json NEW.json"},
		{name: "three reports", args: "a.json b.json c.json", wantErr: `unexpected "c.json"`},
		{name: "bare tolerance", args: "a.json b.json --tolerance 0.1", wantErr: "write it as a percentage"},
		{name: "negative tolerance", args: "a.json b.json --tolerance -5%", wantErr: "from 0% to 1000%"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *CompareOptions
			cmd := NewCmdCompare(testFactory(ios, nil), func(o *CompareOptions) error { got = o; return nil })
			err := execute(cmd, tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
					t.Fatalf("err = %v, want a usage error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Old != "a.json" || got.New != "b.json" || got.Tolerance != tc.wantTolerance {
				t.Errorf("options %+v", got)
			}
		})
	}
}

// Test_compareRun checks the lines and exit codes of `loadtest compare`
// against golden files: within tolerance (0), a regression (1), and input
// that is not a report (2).
func Test_compareRun(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		old, new  string
		output    string
		tty       bool
		wantCode  int
		wantError string
	}{
		{name: "within tolerance", old: "testdata/baseline.json", new: "testdata/current.json"},
		{name: "regression", old: "testdata/baseline.json", new: "testdata/regressed.json", wantCode: 1,
			wantError: "1 regression against testdata/baseline.json (tolerance 10%): p99 latency +38.9%"},
		{name: "regression json", old: "testdata/baseline.json", new: "testdata/regressed.json", output: cmdutil.OutputJSON, wantCode: 1},
		{name: "regression colour", old: "testdata/baseline.json", new: "testdata/regressed.json", tty: true, wantCode: 1},
		{name: "missing file", old: "testdata/nope.json", new: "testdata/current.json", wantCode: 2,
			wantError: `read baseline "testdata/nope.json": open testdata/nope.json: no such file or directory`},
		{name: "not a report", old: "testdata/baseline.json", new: bad, wantCode: 2, wantError: "not a load-test report: invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ios, _, stdout, _ := iostreams.Test()
			if tc.tty {
				ios.SetStdoutTTY(true)
				ios.SetColorDepth(iostreams.Color16)
			}
			opts := &CompareOptions{IO: ios, Old: tc.old, New: tc.new, Tolerance: 0.1, Output: tc.output}
			err := compareRun(opts)
			if code := cmdutil.ExitCode(err); code != tc.wantCode {
				t.Fatalf("exit %d (%v), want %d", code, err, tc.wantCode)
			}
			if tc.wantError != "" && (err == nil || !strings.Contains(err.Error(), tc.wantError)) {
				t.Errorf("err = %v, want it to say %q", err, tc.wantError)
			}
			if tc.wantCode == 2 {
				if stdout.Len() != 0 {
					t.Errorf("stdout %q on bad input", stdout)
				}
				return
			}
			if tc.output == cmdutil.OutputJSON && !json.Valid(stdout.Bytes()) {
				t.Errorf("invalid JSON: %s", stdout)
			}
			golden.Assert(t, stdout.Bytes())
		})
	}
}

// TestRunBaselineLines: `run --baseline` prints the same lines as
// `compare`, after the summary. The run is against a real server, so only
// the lines' shape is fixed; the comparison itself is golden-tested above
// and in pkg/loadtest.
func TestRunBaselineLines(t *testing.T) {
	t.Parallel()
	srv := okServer(t, nil)
	ios, _, stdout, _ := iostreams.Test()
	opts := baseRunOptions(ios, srv.URL)
	opts.Baseline = "testdata/baseline.json"
	err := runRun(context.Background(), opts)
	// Against a baseline of 1000 req/s and 80ms p50, a loopback run is
	// faster but sends far fewer requests per second with 40 requests:
	// whatever the verdict, every line is there.
	_ = err
	for _, metric := range []string{"p50 latency", "p95 latency", "p99 latency", "throughput", "error rate"} {
		if !strings.Contains(stdout.String(), " "+metric+": ") {
			t.Errorf("no %s line in:\n%s", metric, stdout)
		}
	}
}
