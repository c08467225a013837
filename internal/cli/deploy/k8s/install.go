package k8s

import (
	"context"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
)

// NewCmdInstall returns `tarsctl deploy k8s install`.
func NewCmdInstall(f *cmdutil.Factory, conn *connFlags, runF func(context.Context, *ReleaseOptions) error) *cobra.Command {
	opts := newReleaseOptions(f)
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install the T.A.R.S. Helm release",
		Long: heredoc.Doc(`
			Install the embedded T.A.R.S. chart as a new Helm release (--release,
			default tars) in --namespace. The values are the chart's defaults, then
			the --profile values, then --values files, then --set-value pairs.

			--wait waits until every Deployment is available and its pods ready;
			--dry-run renders the manifests against the cluster and prints them
			without changing anything.

			EXIT STATUS
			  0  installed (and, with --wait, ready)
			  1  the install failed, or the release already exists (use upgrade)
			  2  a bad flag, values file or --set-value
			  3  the Kubernetes API could not be reached
			  6  --wait gave up after --timeout
		`),
		Example: heredoc.Doc(`
			$ tarsctl deploy k8s install --profile production -n tars-prod --create-namespace --wait
			$ tarsctl deploy k8s install -f my-values.yaml --set-value ingress.host=tars.example.com
			$ tarsctl deploy k8s install --dry-run > manifests.yaml
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.complete(f, conn); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return installRun(cmd.Context(), opts)
		},
	}
	addValueFlags(cmd, &opts.Request)
	addWaitFlags(cmd, &opts.Request, "the release is ready")
	cmd.Flags().BoolVar(&opts.Request.DryRun, "dry-run", false, "render against the cluster and print the manifests; change nothing")
	cmd.Flags().BoolVar(&opts.Request.CreateNamespace, "create-namespace", false, "create --namespace if it does not exist")
	return cmd
}

func installRun(ctx context.Context, opts *ReleaseOptions) error {
	return opts.run(ctx, func(ctx context.Context, r k8srunner.Runner) error {
		st := opts.status()
		if !opts.Request.DryRun {
			st.Info("Installing release %s in namespace %s...", opts.Request.Release, nsOrDefault(opts.Request.Namespace))
		}
		rel, err := r.Install(ctx, opts.Request)
		if err != nil {
			return err
		}
		if opts.Request.DryRun && opts.Output != cmdutil.OutputJSON {
			return printManifest(opts.IO.Out, rel)
		}
		st.Success("Installed release %s (revision %d) in namespace %s", rel.Name, rel.Revision, rel.Namespace)
		if opts.Output == cmdutil.OutputJSON {
			return printRelease(opts, rel)
		}
		return nil
	})
}

func nsOrDefault(ns string) string {
	if ns == "" {
		return "(the context's default)"
	}
	return ns
}
