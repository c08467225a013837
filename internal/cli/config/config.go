// Package config implements `tarsctl config`: show, validate and profiles.
package config

import (
	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
)

// NewCmdConfig returns the `tarsctl config` command group.
func NewCmdConfig(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config <command>",
		Short: "Show, check and list configuration profiles",
		Long: heredoc.Doc(`
			Inspect the configuration tarsctl and the T.A.R.S. daemons use.

			Values come from, highest precedence first: command flags and --set,
			TARS_* environment variables (api.port is TARS_API_PORT), the config
			file (--config, $TARS_CONFIG, or $XDG_CONFIG_HOME/tarsctl/config.yaml),
			the profile (--profile or $TARS_PROFILE, default local), and built-in
			defaults. ${VAR} and ${VAR:-default} in file values are expanded from
			the environment.
		`),
	}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(NewCmdShow(f, nil))
	cmd.AddCommand(NewCmdValidate(f, nil))
	cmd.AddCommand(NewCmdProfiles(f, nil))
	return cmd
}
