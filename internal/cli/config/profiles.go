package config

import (
	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	cfg "github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// ProfilesOptions are the inputs of `tarsctl config profiles`.
type ProfilesOptions struct {
	IO     *iostreams.IOStreams
	Output string
}

// NewCmdProfiles returns `tarsctl config profiles`.
func NewCmdProfiles(f *cmdutil.Factory, runF func(*ProfilesOptions) error) *cobra.Command {
	opts := &ProfilesOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "profiles",
		Short: "List the built-in configuration profiles",
		Long: heredoc.Doc(`
			List the embedded profiles, one per environment, with a one-line
			description. Select one with --profile NAME or TARS_PROFILE=NAME; see
			its values with tarsctl config show --profile NAME.
		`),
		Example: heredoc.Doc(`
			$ tarsctl config profiles
			$ tarsctl config show --profile staging
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output = f.Globals.Output
			if runF != nil {
				return runF(opts)
			}
			return profilesRun(opts)
		},
	}
	return cmd
}

func profilesRun(opts *ProfilesOptions) error {
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, cfg.Profiles)
	}
	t := ui.NewTable(opts.IO, "name", "description")
	for _, p := range cfg.Profiles {
		t.AddRow(p.Name, p.Description)
	}
	return t.Render()
}
