package cmdutil

import (
	"strings"

	"github.com/spf13/cobra"
)

// GroupCommand makes cmd a command group: without arguments it prints its
// help; with an unknown subcommand it fails with a usage error and
// suggestions (cobra alone would print help and exit 0).
func GroupCommand(cmd *cobra.Command) {
	cmd.SuggestionsMinimumDistance = 2
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := "unknown command %q for %q"
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			return FlagErrorf(msg+"; did you mean %s?", args[0], c.CommandPath(), strings.Join(s, " or "))
		}
		return FlagErrorf(msg, args[0], c.CommandPath())
	}
	cmd.RunE = func(c *cobra.Command, args []string) error {
		return c.Help()
	}
}
