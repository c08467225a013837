package agents

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/agentspec"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/internal/ui"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// TrainOptions are the inputs of `tarsctl agents train`.
type TrainOptions struct {
	IO           *iostreams.IOStreams
	Orchestrator func() (Orchestrator, error)
	Output       string
	Quiet        bool

	AgentID  string
	Episodes int
	Seed     *uint64
	Update   *client.HyperparameterUpdate // nil: unchanged
	Timeout  time.Duration
}

// NewCmdTrain returns `tarsctl agents train`.
func NewCmdTrain(f *cmdutil.Factory, connect Connect, runF func(context.Context, *TrainOptions) error) *cobra.Command {
	opts := &TrainOptions{IO: f.IOStreams, Orchestrator: func() (Orchestrator, error) {
		return connect(services.OrchestrationAgent, store.RoleOperator)
	}}
	var seed uint64
	hp := &hyperparameterFlags{}
	cmd := &cobra.Command{
		Use:   "train AGENT",
		Short: "Run a training run of an agent, creating it if needed",
		Long: heredoc.Docf(`
			Train an agent of the orchestration agent for --episodes episodes of
			CartPole and wait for the run to finish; its checkpoint is written before
			the command returns. An agent that does not exist is created, with --seed
			(random when not given) and the default hyperparameters changed by the
			hyperparameter flags. Two agents created with the same seed and trained
			the same way learn exactly the same.

			The hyperparameter flags change the agent before the run, as
			tarsctl agents set does. Episodes: %d to %d.

			EXIT STATUS
			  0  trained
			  1  the run failed, or the agent is already training
			  2  bad input (episodes, hyperparameters, agent id)
			  3  the orchestrator cannot be reached
			  4  the token was refused or its role may not train
			  6  --timeout passed before the run finished (the run stops after its
			     current episode and keeps what it learnt)
		`, client.MinEpisodes, client.MaxEpisodes),
		Example: heredoc.Doc(`
			$ tarsctl agents train cartpole-1
			$ tarsctl agents train cartpole-2 --episodes 200 --seed 42
			$ tarsctl agents train cartpole-1 --episodes 10 --learning-rate 0.3 -o json | jq .mean_reward
		`),
		Args:              cmdutil.ExactArgs(1, "an AGENT id"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.AgentID, opts.Output, opts.Quiet = args[0], f.Globals.Output, f.Globals.Quiet
			if err := agentspec.ValidateID(opts.AgentID); err != nil {
				return cmdutil.FlagErrorf("invalid agent id %q: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter, digit or '_'", opts.AgentID)
			}
			if opts.Episodes < client.MinEpisodes || opts.Episodes > client.MaxEpisodes {
				return cmdutil.FlagErrorf("--episodes must be from %d to %d, got %d", client.MinEpisodes, client.MaxEpisodes, opts.Episodes)
			}
			if cmd.Flags().Changed("seed") {
				opts.Seed = &seed
			}
			u, err := hp.update(cmd)
			if err != nil {
				return err
			}
			if !u.IsEmpty() {
				opts.Update = &u
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return trainRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVarP(&opts.Episodes, "episodes", "n", 50, "episodes to run")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "seed of a new agent (default random)")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 5*time.Minute, "give up waiting after this long")
	hp.register(cmd)
	return cmd
}

func trainRun(ctx context.Context, opts *TrainOptions) error {
	c, err := opts.Orchestrator()
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx, opts.Timeout)
	defer cancel()
	res, err := c.Train(ctx, opts.AgentID, client.TrainRequest{Episodes: opts.Episodes, Seed: opts.Seed, Hyperparameters: opts.Update})
	if err != nil {
		return apiError(err, services.OrchestrationAgent, c.BaseURL())
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, res)
	}
	verb := "Trained"
	if res.Created {
		verb = "Created and trained"
	}
	ui.NewStatus(opts.IO, opts.Quiet).Success("%s agent %s: %d episodes in %s", verb, res.AgentID, res.Episodes, ms(res.DurationMS))
	return writeFields(opts.IO, [][2]string{
		{"agent", res.AgentID},
		{"episodes", fmt.Sprintf("%d (%d in total)", res.Episodes, res.Agent.Episodes)},
		{"mean reward", num(res.MeanReward)},
		{"last reward", num(res.LastReward)},
		{"best reward", num(res.BestReward)},
		{"epsilon", num(res.Agent.Exploration)},
		{"seed", strconv.FormatUint(res.Agent.Seed, 10)},
		{"duration", ms(res.DurationMS)},
	})
}

func ms(v float64) string { return num(v) + "ms" }

// writeFields prints name/value pairs: aligned on a terminal,
// tab-separated otherwise.
func writeFields(ios *iostreams.IOStreams, fields [][2]string) error {
	for _, kv := range fields {
		var err error
		if ios.IsStdoutTTY() {
			_, err = fmt.Fprintf(ios.Out, "%-14s %s\n", kv[0], kv[1])
		} else {
			_, err = fmt.Fprintf(ios.Out, "%s\t%s\n", kv[0], kv[1])
		}
		if err != nil {
			return err
		}
	}
	return nil
}
