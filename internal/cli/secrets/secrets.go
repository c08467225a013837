// Package secrets implements `tarsctl secrets`: generate the secrets a
// deployment needs, and rotate the JWT secret and the Redis password.
package secrets

import (
	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
)

// NewCmdSecrets returns the `tarsctl secrets` command group.
func NewCmdSecrets(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets <command>",
		Short: "Generate and rotate deployment secrets",
		Long: heredoc.Doc(`
			Generate the secrets a T.A.R.S. deployment needs: the JWT secret, the
			AES-256 data key, the RSA signing key pair, and the Redis, database and
			initial admin passwords. Values are written to files (0600, directory
			0700, atomically, never overwritten without --force) and never printed
			unless asked for with an explicit flag.

			Rotate the JWT secret (immediately, or with a grace period for the
			old one) and the Redis ACL password (with no downtime).
		`),
	}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(NewCmdGenerate(f, nil), NewCmdRotate(f))
	return cmd
}
