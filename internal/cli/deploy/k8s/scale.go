package k8s

import (
	"context"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// ScaleOptions are the inputs of `tarsctl scale`.
type ScaleOptions struct {
	IO       *iostreams.IOStreams
	Runner   func() (k8srunner.Runner, error)
	Target   k8sapi.Target
	Service  string
	Replicas int32
	Output   string
	Quiet    bool
}

// NewCmdScale returns `tarsctl scale`.
func NewCmdScale(f *cmdutil.Factory, runF func(context.Context, *ScaleOptions) error) *cobra.Command {
	opts := &ScaleOptions{IO: f.IOStreams, Runner: cmdutil.K8sRunner}
	var replicas int
	cmd := &cobra.Command{
		Use:   "scale SERVICE --replicas N",
		Short: "Set the number of replicas of a service on Kubernetes",
		Long: heredoc.Doc(`
			Set SERVICE's Deployment to N replicas through the scale subresource,
			as kubectl scale does. The Deployment is the one named SERVICE or
			labelled app.kubernetes.io/component=SERVICE in --namespace. An HPA
			on the service (the chart's default for the API services) may change
			the count again within its min/max bounds; tarsctl status --target
			k8s shows both.

			EXIT STATUS
			  0  scaled
			  1  there is no such Deployment, or the API refused the change
			  2  bad usage (a negative or missing --replicas)
			  3  the Kubernetes API could not be reached
		`),
		Example: heredoc.Doc(`
			$ tarsctl scale dashboard-api --replicas 4 -n tars-prod
			$ tarsctl scale orchestration-agent --replicas 0 -n tars-staging -o json
		`),
		Args: cmdutil.ExactArgs(1, "SERVICE"),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return services.Names(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("replicas") {
				return cmdutil.FlagErrorf("--replicas N is required")
			}
			if replicas < 0 || replicas > 10000 {
				return cmdutil.FlagErrorf("--replicas must be between 0 and 10000, not %d", replicas)
			}
			opts.Service, opts.Replicas = services.Canonical(args[0]), int32(replicas)
			opts.Output, opts.Quiet = f.Globals.Output, f.Globals.Quiet
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return scaleRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&replicas, "replicas", 0, "the number of replicas")
	cmdutil.AddKubeFlags(cmd.Flags(), &opts.Target)
	return cmd
}

func scaleRun(ctx context.Context, opts *ScaleOptions) error {
	r, err := opts.Runner()
	if err != nil {
		return err
	}
	res, err := r.Scale(ctx, opts.Target, opts.Service, opts.Replicas)
	if err != nil {
		return cmdutil.ClassifyK8s(err)
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, res)
	}
	ui.NewStatus(opts.IO, opts.Quiet).Success("Scaled deployment %s in namespace %s from %d to %d replicas",
		res.Deployment, res.Namespace, res.Previous, res.Replicas)
	return nil
}
