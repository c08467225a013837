package agents

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// ListOptions are the inputs of `tarsctl agents list`.
type ListOptions struct {
	IO           *iostreams.IOStreams
	Orchestrator func() (Orchestrator, error)
	Now          func() time.Time
	Output       string
	Timeout      time.Duration
}

// NewCmdList returns `tarsctl agents list`.
func NewCmdList(f *cmdutil.Factory, connect Connect, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Now: f.Now, Orchestrator: func() (Orchestrator, error) {
		return connect(services.OrchestrationAgent, store.RoleViewer)
	}}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the orchestrator's agents",
		Long: heredoc.Doc(`
			List the orchestration agent's agents: status (idle, queued, training, or
			error when its checkpoint could not be loaded), episodes run, mean reward
			of the last 100 episodes, last reward, current exploration rate ε and
			learning rate.

			-o json prints the agents as the orchestrator's GET /api/agents returns
			them, with every hyperparameter.

			EXIT STATUS
			  0  listed (also when there are none)
			  3  the orchestrator cannot be reached
			  4  the token was refused
		`),
		Example: heredoc.Doc(`
			$ tarsctl agents list
			$ tarsctl agents list -o json | jq -r '.[] | select(.mean_reward > 195) | .id'
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output = f.Globals.Output
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 10*time.Second, "give up after this long")
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	c, err := opts.Orchestrator()
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx, opts.Timeout)
	defer cancel()
	agents, err := c.ListAgents(ctx)
	if err != nil {
		return apiError(err, services.OrchestrationAgent, c.BaseURL())
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, agents)
	}
	t := ui.NewTable(opts.IO, "id", "status", "episodes", "mean reward", "last reward", "epsilon", "learning rate", "updated")
	if opts.Now != nil {
		t.SetNow(opts.Now)
	}
	for _, a := range agents {
		t.AddRow(a.ID, a.Status, strconv.Itoa(a.Episodes), num(a.MeanReward), num(a.LastReward),
			num(a.Exploration), num(a.Hyperparameters.LearningRate), t.Time(a.UpdatedAt))
	}
	return t.Render()
}

// num formats a float for a table cell: at most three decimals, no
// trailing zeros.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}
