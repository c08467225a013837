// Package loadtest implements `tarsctl loadtest`: run and compare. The
// engine is the public library pkg/loadtest; these commands parse flags,
// print progress and verdicts, write the report files and pick the exit
// code.
package loadtest

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	lt "github.com/tars-ops/tarsctl/pkg/loadtest"
)

// NewCmdLoadtest returns the `tarsctl loadtest` command group.
func NewCmdLoadtest(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "loadtest <command>",
		Short: "Load-test HTTP services and compare the results with a baseline",
		Long: heredoc.Doc(`
			Load-test a T.A.R.S. service (or any HTTP server) and judge the result.

			run sends requests closed-loop (users, as locust does) or open-loop at a
			fixed rate (as wrk2 and vegeta do), records latencies in HDR histograms,
			writes JSON and Markdown reports, and fails on breached thresholds or
			regressions against a baseline. compare judges two saved reports.

			The report format, the scenario format and the threshold syntax are
			described in docs/loadtest.md.
		`),
		Example: heredoc.Doc(`
			$ tarsctl loadtest run --url http://localhost:3001/health --duration 30s --concurrency 50
			$ tarsctl loadtest run --url http://localhost:3001 --scenario dashboard.yaml --duration 10m --concurrency 100 --spawn-rate 10
			$ tarsctl loadtest compare baseline.json current.json
		`),
	}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(NewCmdRun(f, nil))
	cmd.AddCommand(NewCmdCompare(f, nil))
	return cmd
}

// parseTolerance reads a --tolerance value: a percentage such as "10%".
func parseTolerance(s string) (float64, error) {
	p, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	if !ok {
		return 0, cmdutil.FlagErrorf("invalid --tolerance %q: write it as a percentage, e.g. 10%%", s)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
	if err != nil || v < 0 || v > 1000 || v != v {
		return 0, cmdutil.FlagErrorf("invalid --tolerance %q: expected a percentage from 0%% to 1000%%", s)
	}
	return v / 100, nil
}

// readReport reads a saved JSON report. A missing or invalid file is bad
// input (exit 2).
func readReport(path, what string) (*lt.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, cmdutil.WithExitCode(cmdutil.ExitUsage, fmt.Errorf("read %s %q: %w", what, path, err))
	}
	defer f.Close()
	rep, err := lt.ReadReport(f)
	if err != nil {
		err = fmt.Errorf("read %s %q: %w", what, path, err)
		if errors.Is(err, lt.ErrBadReport) {
			err = cmdutil.WithHint(err, "a baseline is a report written by tarsctl loadtest run --output-json")
		}
		return nil, cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	}
	if rep.Summary.Requests == 0 {
		return nil, cmdutil.WithExitCode(cmdutil.ExitUsage, fmt.Errorf("read %s %q: it records no requests", what, path))
	}
	return rep, nil
}

// regressionError summarises the regressions of a comparison as the
// error that makes the command exit 1.
func regressionError(res *lt.BaselineResult, against string) error {
	var parts []string
	for _, c := range res.Checks {
		if c.Regression {
			change := "n/a"
			if c.Change != nil {
				change = fmt.Sprintf("%+.1f%%", *c.Change*100)
			}
			parts = append(parts, c.Label()+" "+change)
		}
	}
	noun := "regression"
	if len(parts) > 1 {
		noun = "regressions"
	}
	return fmt.Errorf("%d %s against %s (tolerance %s): %s", len(parts), noun, against, lt.FormatTolerance(res.Tolerance), strings.Join(parts, ", "))
}
