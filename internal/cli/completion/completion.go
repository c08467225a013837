// Package completion implements `tarsctl completion SHELL`.
package completion

import (
	"io"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
)

// Shells are the shells tarsctl writes completion scripts for.
var Shells = []string{"bash", "zsh", "fish", "powershell"}

// NewCmdCompletion returns `tarsctl completion`.
func NewCmdCompletion(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "completion {bash|zsh|fish|powershell}",
		Short: "Print a shell completion script",
		Long: heredoc.Doc(`
			Print the completion script for a shell. Completion covers commands,
			flags, profile names, --output values and files.

			bash (needs the bash-completion package):
			  $ tarsctl completion bash | sudo tee /etc/bash_completion.d/tarsctl
			  or, for this shell only: $ source <(tarsctl completion bash)

			zsh:
			  $ tarsctl completion zsh > "${fpath[1]}/_tarsctl"
			  (run compinit once, e.g. "autoload -U compinit; compinit" in ~/.zshrc)

			fish:
			  $ tarsctl completion fish > ~/.config/fish/completions/tarsctl.fish

			PowerShell:
			  PS> tarsctl completion powershell | Out-String | Invoke-Expression
			  (add that line to $PROFILE to keep it)

			Release archives ship the same scripts in completions/.
		`),
		ValidArgs:             Shells,
		DisableFlagsInUseLine: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cmdutil.FlagErrorf("%q needs one shell: bash, zsh, fish or powershell", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return Write(cmd.Root(), args[0], f.IOStreams.Out)
		},
	}
}

// Write writes the completion script for shell.
func Write(root *cobra.Command, shell string, w io.Writer) error {
	switch shell {
	case "bash":
		return root.GenBashCompletionV2(w, true)
	case "zsh":
		return root.GenZshCompletion(w)
	case "fish":
		return root.GenFishCompletion(w, true)
	case "powershell":
		return root.GenPowerShellCompletionWithDesc(w)
	default:
		return cmdutil.FlagErrorf("unsupported shell %q: expected one of bash, zsh, fish, powershell", shell)
	}
}
