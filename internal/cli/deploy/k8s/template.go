package k8s

import (
	"context"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
)

// NewCmdTemplate returns `tarsctl deploy k8s template`.
func NewCmdTemplate(f *cmdutil.Factory, conn *connFlags, runF func(context.Context, *ReleaseOptions) error) *cobra.Command {
	opts := newReleaseOptions(f)
	cmd := &cobra.Command{
		Use:   "template",
		Short: "Render the chart's manifests locally, without a cluster",
		Long: heredoc.Doc(`
			Render the embedded chart with the same values install would use
			(defaults, --profile, --values, --set-value) and print the manifests
			to stdout, for review, GitOps repositories or kubectl apply. Needs no
			cluster: capabilities are Helm's defaults for a current Kubernetes.

			EXIT STATUS
			  0  rendered
			  1  the chart did not render with these values
			  2  a bad values file or --set-value
		`),
		Example: heredoc.Doc(`
			$ tarsctl deploy k8s template --profile production -n tars-prod > tars.yaml
			$ tarsctl deploy k8s template --set-value vault.enabled=true | grep vault.hashicorp.com
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.complete(f, conn); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return templateRun(cmd.Context(), opts)
		},
	}
	addValueFlags(cmd, &opts.Request)
	cmdutil.SetOutputFormats(cmd, cmdutil.OutputText)
	return cmd
}

func templateRun(ctx context.Context, opts *ReleaseOptions) error {
	return opts.run(ctx, func(ctx context.Context, r k8srunner.Runner) error {
		rel, err := r.Template(ctx, opts.Request)
		if err != nil {
			return err
		}
		return printManifest(opts.IO.Out, rel)
	})
}
