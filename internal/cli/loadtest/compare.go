package loadtest

import (
	"fmt"
	"io"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
	lt "github.com/tars-ops/tarsctl/pkg/loadtest"
)

// CompareOptions are the inputs of `tarsctl loadtest compare`.
type CompareOptions struct {
	IO *iostreams.IOStreams

	Old, New  string
	Tolerance float64
	Output    string
}

// NewCmdCompare returns `tarsctl loadtest compare`.
func NewCmdCompare(f *cmdutil.Factory, runF func(*CompareOptions) error) *cobra.Command {
	opts := &CompareOptions{IO: f.IOStreams}
	var tolerance string
	cmd := &cobra.Command{
		Use:   "compare OLD.json NEW.json",
		Short: "Compare two load-test reports and flag regressions",
		Long: heredoc.Doc(`
			Compare the report NEW.json with the baseline OLD.json, both written by
			tarsctl loadtest run --output-json, and print one line per metric:
			p50, p95 and p99 latency, throughput and error rate.

			A metric regresses when it gets worse by more than --tolerance relative
			to the baseline: latency or error rate up, throughput down. The error
			rate must also rise by more than 0.1 percentage point, so a stray error
			against a clean baseline does not fail a build.

			With -o json the result is one document: {"baseline", "current",
			"tolerance", "checks": [{"metric", "current", "baseline", "change",
			"regression"}], "regressions"}.

			EXIT STATUS
			  0  no regression
			  1  at least one regression
			  2  bad usage, or a report that cannot be read
		`),
		Example: heredoc.Doc(`
			$ tarsctl loadtest compare baseline.json current.json
			✓ p95 latency: 125ms (baseline: 120ms, +4.2%)
			✗ p99 latency: 250ms (baseline: 180ms, +38.9%) [REGRESSION]
			$ tarsctl loadtest compare baseline.json current.json --tolerance 5% -o json | jq .regressions
		`),
		Args: cmdutil.ExactArgs(2, "two reports: OLD.json NEW.json"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Old, opts.New = args[0], args[1]
			opts.Output = f.Globals.Output
			var err error
			if opts.Tolerance, err = parseTolerance(tolerance); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return compareRun(opts)
		},
	}
	cmd.Flags().StringVar(&tolerance, "tolerance", "10%", "how much worse a metric may get before it is a regression")
	cmd.ValidArgsFunction = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"json"}, cobra.ShellCompDirectiveFilterFileExt
	}
	return cmd
}

func compareRun(opts *CompareOptions) error {
	old, err := readReport(opts.Old, "baseline")
	if err != nil {
		return err
	}
	cur, err := readReport(opts.New, "report")
	if err != nil {
		return err
	}
	res := lt.Compare(old, cur, opts.Tolerance)
	if opts.Output == cmdutil.OutputJSON {
		if err := ui.WriteJSON(opts.IO.Out, struct {
			Baseline string `json:"baseline"`
			Current  string `json:"current"`
			*lt.BaselineResult
		}{opts.Old, opts.New, res}); err != nil {
			return err
		}
	} else if err := writeChecks(opts.IO.Out, ui.NewTheme(opts.IO), nil, res); err != nil {
		return err
	}
	if res.Regressions > 0 {
		return cmdutil.Failed(regressionError(res, opts.Old))
	}
	return nil
}

// writeChecks prints the runbook's ✓/✗ lines: thresholds, then the
// baseline comparison.
func writeChecks(w io.Writer, theme *ui.Theme, thresholds []lt.ThresholdResult, baseline *lt.BaselineResult) error {
	mark := func(ok bool) string {
		if ok {
			return theme.Success.Render(lt.Mark(true))
		}
		return theme.Failure.Render(lt.Mark(false))
	}
	for _, t := range thresholds {
		if _, err := fmt.Fprintf(w, "%s %s\n", mark(t.OK), t.Line()); err != nil {
			return err
		}
	}
	if baseline != nil {
		for _, c := range baseline.Checks {
			if _, err := fmt.Fprintf(w, "%s %s\n", mark(!c.Regression), c.Line()); err != nil {
				return err
			}
		}
	}
	return nil
}
