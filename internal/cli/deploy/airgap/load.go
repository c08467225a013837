package airgap

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/airgap"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// LoadOptions are the inputs of `tarsctl deploy airgap load`.
type LoadOptions struct {
	IO *iostreams.IOStreams

	Bundle     string
	Registry   string
	Insecure   bool
	Repository string
	Output     string
	Quiet      bool
}

// NewCmdLoad returns `tarsctl deploy airgap load`.
func NewCmdLoad(f *cmdutil.Factory, runF func(context.Context, *LoadOptions) error) *cobra.Command {
	opts := &LoadOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "load BUNDLE --registry HOST:PORT [--insecure]",
		Short: "Push a bundle's images to the site's registry",
		Long: heredoc.Doc(`
			Push the tarsctl image of BUNDLE (every platform, as one multi-platform
			index) to the registry at HOST:PORT, as HOST:PORT/tars-ops/tarsctl:X.Y.Z
			(--repository changes the path), then read the manifest back from the
			registry and check its digest. No Docker engine is needed.

			--insecure talks plain HTTP, for a registry without TLS. No credentials
			are sent: the registry must accept anonymous pushes, as a site-internal
			registry on the air-gapped network usually does.

			Run tarsctl deploy airgap verify first: load trusts the bundle.

			EXIT STATUS
			  0    pushed and read back
			  2    bad usage, or BUNDLE is not a bundle
			  3    the registry could not be reached, or refused the push
			  4    the registry asks for credentials
		`),
		Example: heredoc.Doc(`
			$ tarsctl deploy airgap load tars-v1.0.2-airgap.tar.gz --registry registry.airgap.local:5000
			$ tarsctl deploy airgap load tars-v1.0.2-airgap.tar.gz --registry 127.0.0.1:5000 --insecure
		`),
		Args: cmdutil.ExactArgs(1, "the BUNDLE file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Bundle, opts.Output, opts.Quiet = args[0], f.Globals.Output, f.Globals.Quiet
			if opts.Registry == "" {
				return cmdutil.FlagErrorf("--registry HOST:PORT is required")
			}
			if _, _, err := net.SplitHostPort(opts.Registry); err != nil {
				return cmdutil.FlagErrorf("invalid --registry %q: want HOST:PORT, such as registry.airgap.local:5000", opts.Registry)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return loadRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Registry, "registry", "", "registry to push to, HOST:PORT")
	cmd.Flags().BoolVar(&opts.Insecure, "insecure", false, "use plain HTTP")
	cmd.Flags().StringVar(&opts.Repository, "repository", "", "repository path in the registry (default: the bundle's, tars-ops/tarsctl)")
	return cmd
}

func loadRun(ctx context.Context, opts *LoadOptions) error {
	if _, err := os.Stat(opts.Bundle); err != nil {
		return cmdutil.FlagErrorWrap(fmt.Errorf("bundle: %w", err))
	}
	jsonMode := opts.Output == cmdutil.OutputJSON
	rep := ui.NewProgress(opts.IO, false, opts.Quiet || jsonMode)
	res, err := airgap.Load(ctx, opts.Bundle, airgap.LoadOptions{Registry: opts.Registry, Insecure: opts.Insecure, Repository: opts.Repository, Progress: rep})
	rep.Done()
	if err != nil {
		hint := "check that the registry runs at " + opts.Registry + " and accepts pushes"
		if !opts.Insecure {
			hint += "; a registry without TLS needs --insecure"
		}
		return cmdutil.WithHint(classify(err), hint)
	}
	if jsonMode {
		return ui.WriteJSON(opts.IO.Out, res)
	}
	st := ui.NewStatus(opts.IO, opts.Quiet)
	for _, r := range res {
		st.Success("Pushed %s as %s (%s), read back", r.Source, r.Target, r.Digest)
		fmt.Fprintln(opts.IO.Out, r.Target+"@"+r.Digest)
	}
	return nil
}
