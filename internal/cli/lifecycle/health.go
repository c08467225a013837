package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"sort"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// HealthOptions are the inputs of `tarsctl health`.
type HealthOptions struct {
	IO      *iostreams.IOStreams
	URL     string // base URL; /health is appended
	Timeout time.Duration
	Output  string
	Quiet   bool
}

// NewCmdHealth returns `tarsctl health`.
func NewCmdHealth(f *cmdutil.Factory, runF func(context.Context, *HealthOptions) error) *cobra.Command {
	opts := &HealthOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "health [SERVICE|URL]",
		Short: "Check a daemon's /health",
		Long: heredoc.Doc(`
			Ask a daemon's /health and print its checks (redis, database,
			disk_space). SERVICE is looked up in the configuration (default
			dashboard-api); a URL such as https://tars.example.com is used as it is.

			EXIT STATUS
			  0  healthy
			  1  unhealthy
			  3  unreachable
		`),
		Example: heredoc.Doc(`
			$ tarsctl health
			$ tarsctl health orchestration-agent
			$ tarsctl health https://tars.company.com -o json
		`),
		Args:              cmdutil.MaximumArgs(1),
		ValidArgsFunction: completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			target := services.DashboardAPI
			if len(args) == 1 {
				target = args[0]
			}
			opts.Output, opts.Quiet = f.Globals.Output, f.Globals.Quiet
			if strings.Contains(target, "://") {
				opts.URL = strings.TrimSuffix(target, "/")
			} else {
				spec, err := services.Resolve(target)
				if err != nil {
					return cmdutil.FlagErrorf("%v, or a URL", err)
				}
				cfg, err := f.Config()
				if err != nil {
					return err
				}
				opts.URL = spec.URL(cfg)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return healthRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return cmd
}

func healthRun(ctx context.Context, opts *HealthOptions) error {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	url := opts.URL + "/health"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return cmdutil.FlagErrorf("bad URL %q: %v", opts.URL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if ue, ok := err.(*neturl.Error); ok {
		err = ue.Err // the URL is in our message already
	}
	if err != nil {
		return cmdutil.WithHint(cmdutil.Unreachable(fmt.Errorf("GET %s: %w", url, err)), "is it running? `tarsctl status` shows the local daemons")
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var rep struct {
		Status    string            `json:"status"`
		Version   string            `json:"version"`
		Timestamp string            `json:"timestamp"`
		Checks    map[string]string `json:"checks"`
		Errors    []string          `json:"errors,omitempty"`
	}
	if err := json.Unmarshal(body, &rep); err != nil || rep.Status == "" {
		return cmdutil.Failed(fmt.Errorf("GET %s: HTTP %d, not a health report", url, resp.StatusCode))
	}
	if opts.Output == cmdutil.OutputJSON {
		if err := ui.WriteJSON(opts.IO.Out, rep); err != nil {
			return err
		}
	} else {
		st := ui.NewStatus(opts.IO, false)
		names := make([]string, 0, len(rep.Checks))
		for n := range rep.Checks {
			names = append(names, n)
		}
		sort.Strings(names)
		t := ui.NewTable(opts.IO, "check", "status")
		for _, n := range names {
			t.AddRow(n, rep.Checks[n])
		}
		if err := t.Render(); err != nil {
			return err
		}
		for _, e := range rep.Errors {
			st.Failure("%s", e)
		}
	}
	if rep.Status != "healthy" {
		return cmdutil.Failed(fmt.Errorf("%s is %s", opts.URL, rep.Status))
	}
	if opts.Output != cmdutil.OutputJSON {
		ui.NewStatus(opts.IO, opts.Quiet).Success("%s is healthy (version %s)", opts.URL, rep.Version)
	}
	return nil
}
