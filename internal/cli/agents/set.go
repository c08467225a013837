package agents

import (
	"context"
	"errors"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/agentspec"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/rl"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/internal/ui"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// SetOptions are the inputs of `tarsctl agents set`.
type SetOptions struct {
	IO           *iostreams.IOStreams
	Orchestrator func() (Orchestrator, error)
	HyperSync    func() (HyperSync, error)
	Output       string
	Quiet        bool

	AgentID      string
	Update       client.HyperparameterUpdate
	ViaHyperSync bool
	// Wait is how long --via-hypersync waits for the sync to be applied.
	Wait    time.Duration
	Timeout time.Duration
}

// NewCmdSet returns `tarsctl agents set`.
func NewCmdSet(f *cmdutil.Factory, connect Connect, runF func(context.Context, *SetOptions) error) *cobra.Command {
	opts := &SetOptions{
		IO: f.IOStreams,
		Orchestrator: func() (Orchestrator, error) {
			return connect(services.OrchestrationAgent, store.RoleOperator)
		},
		HyperSync: func() (HyperSync, error) {
			return connect(services.HyperSync, store.RoleOperator)
		},
	}
	hp := &hyperparameterFlags{}
	cmd := &cobra.Command{
		Use:   "set AGENT --HYPERPARAMETER VALUE...",
		Short: "Change an agent's hyperparameters",
		Long: heredoc.Doc(`
			Change some of an agent's hyperparameters; the others stay as they are.
			An agent that is training picks them up from its next episode. A new
			epsilon also resets the agent's current exploration rate to it.

			By default the orchestrator is changed directly and the change is in the
			agent's checkpoint when the command returns. With --via-hypersync the
			change goes to HyperSync, which records it durably and applies it, retrying
			while the orchestrator is down; the command waits up to --wait for it to be
			applied, and otherwise leaves it pending with a warning (exit 0: HyperSync
			will apply it).

			EXIT STATUS
			  0  changed (or, with --via-hypersync, accepted)
			  1  the change was refused (e.g. by HyperSync after the orchestrator
			     rejected it), or the agent's checkpoint is unreadable
			  2  bad input: no hyperparameter given, a value out of range
			  3  the daemon cannot be reached
			  4  the token was refused or its role may not change agents
		`),
		Example: heredoc.Doc(`
			$ tarsctl agents set cartpole-1 --learning-rate 0.3 --epsilon-decay 0.97
			$ tarsctl agents set cartpole-1 --epsilon 0.2 --via-hypersync
			$ tarsctl agents set cartpole-1 --discount 0.99 -o json | jq .hyperparameters
		`),
		Args:              cmdutil.ExactArgs(1, "an AGENT id"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.AgentID, opts.Output, opts.Quiet = args[0], f.Globals.Output, f.Globals.Quiet
			if err := agentspec.ValidateID(opts.AgentID); err != nil {
				return cmdutil.FlagErrorf("invalid agent id %q: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter, digit or '_'", opts.AgentID)
			}
			u, err := hp.update(cmd)
			if err != nil {
				return err
			}
			if u.IsEmpty() {
				return cmdutil.FlagErrorf("give at least one of --learning-rate, --discount, --epsilon, --epsilon-decay, --epsilon-min")
			}
			if cmd.Flags().Changed("wait") && !opts.ViaHyperSync {
				return cmdutil.FlagErrorf("--wait needs --via-hypersync")
			}
			opts.Update = u
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return setRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.ViaHyperSync, "via-hypersync", false, "send the change through HyperSync (recorded, retried until applied)")
	cmd.Flags().DurationVar(&opts.Wait, "wait", 10*time.Second, "with --via-hypersync, how long to wait for the change to be applied (0: do not wait; at most 30s)")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 10*time.Second, "give up on the daemon after this long (--wait comes on top)")
	hp.register(cmd)
	return cmd
}

func setRun(ctx context.Context, opts *SetOptions) error {
	if opts.ViaHyperSync {
		return setViaHyperSync(ctx, opts)
	}
	c, err := opts.Orchestrator()
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx, opts.Timeout)
	defer cancel()
	a, err := c.SetHyperparameters(ctx, opts.AgentID, opts.Update)
	if err != nil {
		return apiError(err, services.OrchestrationAgent, c.BaseURL())
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, a)
	}
	ui.NewStatus(opts.IO, opts.Quiet).Success("Updated the hyperparameters of agent %s", a.ID)
	return writeHyperparameters(opts.IO, a.Hyperparameters)
}

func setViaHyperSync(ctx context.Context, opts *SetOptions) error {
	c, err := opts.HyperSync()
	if err != nil {
		return err
	}
	wait := min(max(opts.Wait, 0), client.MaxSyncWait)
	ctx, cancel := withTimeout(ctx, opts.Timeout+wait)
	defer cancel()
	s, err := c.SubmitSync(ctx, client.SyncRequest{AgentID: opts.AgentID, Hyperparameters: opts.Update, Source: "tarsctl"}, wait)
	if err != nil {
		return apiError(err, services.HyperSync, c.BaseURL())
	}
	if opts.Output == cmdutil.OutputJSON {
		if err := ui.WriteJSON(opts.IO.Out, s); err != nil {
			return err
		}
	}
	st := ui.NewStatus(opts.IO, opts.Quiet)
	switch s.Status {
	case client.SyncApplied:
		if opts.Output != cmdutil.OutputJSON {
			st.Success("HyperSync applied %s to agent %s in %s", s.ID, s.AgentID, ms(s.LatencyMS))
		}
	case client.SyncFailed:
		return cmdutil.Failed(errors.New("HyperSync could not apply " + s.ID + " to agent " + s.AgentID + ": " + s.Error))
	default:
		msg := "HyperSync accepted " + s.ID + " for agent " + s.AgentID + "; it is not applied yet"
		if s.Error != "" {
			msg += " (" + s.Error + ")"
		}
		st.Warning("%s: it will be applied when the orchestrator can be reached", msg)
	}
	return nil
}

func writeHyperparameters(ios *iostreams.IOStreams, h client.Hyperparameters) error {
	return writeFields(ios, [][2]string{
		{"learning_rate", num(h.LearningRate)},
		{"discount", num(h.Discount)},
		{"epsilon", num(h.Epsilon)},
		{"epsilon_decay", num(h.EpsilonDecay)},
		{"epsilon_min", num(h.EpsilonMin)},
	})
}

// hyperparameterFlags are the flags that change hyperparameters, shared by
// set and train.
type hyperparameterFlags struct {
	learningRate, discount, epsilon, decay, epsilonMin float64
}

var flagOfField = map[string]string{
	"learning_rate": "learning-rate", "discount": "discount", "epsilon": "epsilon",
	"epsilon_decay": "epsilon-decay", "epsilon_min": "epsilon-min",
}

func (h *hyperparameterFlags) register(cmd *cobra.Command) {
	d := rl.DefaultHyperparameters()
	fl := cmd.Flags()
	fl.Float64Var(&h.learningRate, "learning-rate", 0, "learning rate α, in (0, 1] (new agents: "+num(d.LearningRate)+")")
	fl.Float64Var(&h.discount, "discount", 0, "discount γ, in [0, 1] (new agents: "+num(d.Discount)+")")
	fl.Float64Var(&h.epsilon, "epsilon", 0, "exploration rate ε to start from, in [0, 1] (new agents: "+num(d.Epsilon)+")")
	fl.Float64Var(&h.decay, "epsilon-decay", 0, "factor ε is multiplied by after each episode, in (0, 1] (new agents: "+num(d.EpsilonDecay)+")")
	fl.Float64Var(&h.epsilonMin, "epsilon-min", 0, "floor of ε, in [0, epsilon] (new agents: "+num(d.EpsilonMin)+")")
}

// update returns the change the user asked for, with each value checked.
func (h *hyperparameterFlags) update(cmd *cobra.Command) (client.HyperparameterUpdate, error) {
	var u client.HyperparameterUpdate
	set := func(name string, v float64) *float64 {
		if cmd.Flags().Changed(name) {
			return &v
		}
		return nil
	}
	u.LearningRate = set("learning-rate", h.learningRate)
	u.Discount = set("discount", h.discount)
	u.Epsilon = set("epsilon", h.epsilon)
	u.EpsilonDecay = set("epsilon-decay", h.decay)
	u.EpsilonMin = set("epsilon-min", h.epsilonMin)
	if u.IsEmpty() {
		return u, nil
	}
	var inv *rl.InvalidError
	if err := agentspec.ValidateUpdate(u); errors.As(err, &inv) {
		return u, cmdutil.FlagErrorf("--%s %v is out of range: want %s", flagOfField[inv.Field], inv.Value, inv.Want)
	} else if err != nil {
		return u, cmdutil.FlagErrorWrap(err)
	}
	return u, nil
}
