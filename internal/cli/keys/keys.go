// Package keys implements `tarsctl keys`: generate AES-256 and RSA keys,
// seal and open files in the at-rest format, show a file's key id, report
// key age against the rotation policy, and rotate the AES key of a data
// directory.
package keys

import (
	"errors"
	"io/fs"
	"syscall"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/keys"
)

// NewCmdKeys returns the `tarsctl keys` command group.
func NewCmdKeys(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys <command>",
		Short: "Generate, inspect and rotate encryption and signing keys",
		Long: heredoc.Doc(`
			Manage the AES-256 key that encrypts data at rest (checkpoints in the
			data directory) and the RSA keys that sign artifacts.

			Key files are written 0600, atomically, and never overwritten without
			--force. A key file that other users can read is refused. Keys are
			named by their id (the first 8 bytes of the key's SHA-256), never
			printed.
		`),
	}
	cmdutil.GroupCommand(cmd)
	rotate := &cobra.Command{
		Use:   "rotate <command>",
		Short: "Rotate a key",
	}
	rotate.AddCommand(NewCmdRotateAES(f, nil), NewCmdRotateRSA(f, nil))
	cmd.AddCommand(
		NewCmdGenerate(f, nil),
		NewCmdEncrypt(f, nil),
		NewCmdDecrypt(f, nil),
		NewCmdID(f, nil),
		NewCmdStatus(f, nil),
		rotate,
		NewCmdRetireOld(f, nil),
	)
	return cmd
}

// classify gives a key or file error its exit code and hint.
func classify(err error) error {
	var foreign *keys.ForeignFilesError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keys.ErrKeyPermissions):
		return cmdutil.WithExitCode(cmdutil.ExitUsage, cmdutil.WithHint(err, "chmod 600 the key file"))
	case errors.Is(err, crypto.ErrInvalidKey):
		return cmdutil.WithExitCode(cmdutil.ExitUsage, cmdutil.WithHint(err, "a key file holds 64 hex digits (tarsctl keys generate aes, or openssl rand -hex 32) or 32 raw bytes"))
	case errors.As(err, &foreign):
		hint := "nothing was modified; move the foreign files out of the data directory"
		if foreign.WrongOldKey {
			hint = "nothing was modified; check --old-key: run tarsctl keys id FILE on a data file to see which key sealed it"
		}
		return cmdutil.WithExitCode(cmdutil.ExitUsage, cmdutil.WithHint(err, hint))
	case errors.Is(err, keys.ErrKeysSwapped):
		return cmdutil.WithExitCode(cmdutil.ExitUsage, cmdutil.WithHint(err, "nothing was modified; tarsctl keys id FILE on a data file tells which key sealed it"))
	case errors.Is(err, keys.ErrSameKey):
		return cmdutil.FlagErrorWrap(err)
	case errors.Is(err, keys.ErrExists):
		return cmdutil.Failed(cmdutil.WithHint(err, "pass --force to replace it"))
	case errors.Is(err, keys.ErrRotationInProgress):
		return cmdutil.Failed(err)
	case errors.Is(err, crypto.ErrUnknownKey), errors.Is(err, crypto.ErrNotEncrypted):
		return cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	case errors.Is(err, fs.ErrPermission):
		return cmdutil.PermissionDenied(err)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR):
		return cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	}
	return err
}
