package users

import (
	"context"
	"fmt"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// ModifyOptions are the inputs of the verbs that change one account:
// passwd, set-role, set-totp and delete.
type ModifyOptions struct {
	IO            *iostreams.IOStreams
	Open          func(context.Context) (Store, error)
	Username      string
	Role          string // set-role
	PasswordStdin bool   // passwd
	Disable       bool   // set-totp --disable
	Yes, DryRun   bool   // delete
	Quiet         bool
}

type modifyCmd struct {
	use, short, long, example string
	args                      cobra.PositionalArgs
	setup                     func(*cobra.Command, *ModifyOptions)
	check                     func(*ModifyOptions, []string) error
	run                       func(context.Context, *ModifyOptions) error
}

func newModifyCmd(f *cmdutil.Factory, open func(context.Context) (Store, error), runF func(context.Context, *ModifyOptions) error, m modifyCmd) *cobra.Command {
	opts := &ModifyOptions{IO: f.IOStreams, Open: open}
	cmd := &cobra.Command{
		Use: m.use, Short: m.short, Long: m.long, Example: m.example, Args: m.args,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Username, opts.Quiet = args[0], f.Globals.Quiet
			if m.check != nil {
				if err := m.check(opts, args); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return m.run(cmd.Context(), opts)
		},
	}
	if m.setup != nil {
		m.setup(cmd, opts)
	}
	return cmd
}

// NewCmdPasswd returns `tarsctl users passwd`.
func NewCmdPasswd(f *cmdutil.Factory, open func(context.Context) (Store, error), runF func(context.Context, *ModifyOptions) error) *cobra.Command {
	return newModifyCmd(f, open, runF, modifyCmd{
		use:   "passwd USERNAME",
		short: "Change a user's password",
		long:  "Set a new password for an account, typed twice at the terminal or read from stdin with --password-stdin.",
		example: heredoc.Doc(`
			$ tarsctl users passwd admin
			$ printf '%s\n' "$NEW" | tarsctl users passwd ci-bot --password-stdin
		`),
		args: cmdutil.ExactArgs(1, "a USERNAME"),
		setup: func(cmd *cobra.Command, o *ModifyOptions) {
			cmd.Flags().BoolVar(&o.PasswordStdin, "password-stdin", false, "read the password from stdin")
		},
		run: passwdRun,
	})
}

func passwdRun(ctx context.Context, opts *ModifyOptions) error {
	db, err := opts.Open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.GetUser(ctx, opts.Username); err != nil {
		return notFound(err, opts.Username)
	}
	pw, err := readPassword(opts.IO, opts.PasswordStdin)
	if err != nil {
		return err
	}
	hash, err := store.HashPassword(pw)
	if err != nil {
		return err
	}
	if err := db.UpdatePassword(ctx, opts.Username, hash); err != nil {
		return notFound(err, opts.Username)
	}
	ui.NewStatus(opts.IO, opts.Quiet).Success("Changed the password of %s", opts.Username)
	return nil
}

// NewCmdSetRole returns `tarsctl users set-role`.
func NewCmdSetRole(f *cmdutil.Factory, open func(context.Context) (Store, error), runF func(context.Context, *ModifyOptions) error) *cobra.Command {
	return newModifyCmd(f, open, runF, modifyCmd{
		use:     "set-role USERNAME ROLE",
		short:   "Change a user's role",
		long:    "Give an account another role: admin, operator or viewer. Tokens already issued keep their role until they expire; refreshed tokens get the new one. The only admin cannot be demoted: make another account admin first.",
		example: "$ tarsctl users set-role alice admin",
		args:    cmdutil.ExactArgs(2, "a USERNAME and a ROLE (admin, operator or viewer)"),
		check: func(o *ModifyOptions, args []string) error {
			o.Role = args[1]
			return checkRole(o.Role)
		},
		run: func(ctx context.Context, opts *ModifyOptions) error {
			db, err := opts.Open(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.SetRole(ctx, opts.Username, opts.Role); err != nil {
				return notFound(err, opts.Username)
			}
			ui.NewStatus(opts.IO, opts.Quiet).Success("%s is now %s", opts.Username, opts.Role)
			return nil
		},
	})
}

// NewCmdSetTOTP returns `tarsctl users set-totp`.
func NewCmdSetTOTP(f *cmdutil.Factory, open func(context.Context) (Store, error), runF func(context.Context, *ModifyOptions) error) *cobra.Command {
	return newModifyCmd(f, open, runF, modifyCmd{
		use:   "set-totp USERNAME",
		short: "Enrol (or remove) a user's TOTP second factor",
		long: heredoc.Doc(`
			Give an account a new TOTP secret and print its otpauth:// URL on stdout
			(load it into an authenticator app; treat it as a secret). Any previous
			secret stops working. With --disable the second factor is removed.
		`),
		example: heredoc.Doc(`
			$ tarsctl users set-totp alice | qrencode -t ansiutf8
			$ tarsctl users set-totp alice --disable
		`),
		args: cmdutil.ExactArgs(1, "a USERNAME"),
		setup: func(cmd *cobra.Command, o *ModifyOptions) {
			cmd.Flags().BoolVar(&o.Disable, "disable", false, "remove the second factor")
		},
		run: func(ctx context.Context, opts *ModifyOptions) error {
			db, err := opts.Open(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			secret := ""
			if !opts.Disable {
				secret = auth.NewTOTPSecret()
			}
			if err := db.SetTOTPSecret(ctx, opts.Username, secret); err != nil {
				return notFound(err, opts.Username)
			}
			st := ui.NewStatus(opts.IO, opts.Quiet)
			if opts.Disable {
				st.Success("Removed the second factor of %s", opts.Username)
				return nil
			}
			st.Success("Enrolled a new TOTP secret for %s", opts.Username)
			_, err = fmt.Fprintln(opts.IO.Out, auth.TOTPURL(secret, opts.Username))
			return err
		},
	})
}

// NewCmdDelete returns `tarsctl users delete`.
func NewCmdDelete(f *cmdutil.Factory, open func(context.Context) (Store, error), runF func(context.Context, *ModifyOptions) error) *cobra.Command {
	return newModifyCmd(f, open, runF, modifyCmd{
		use:   "delete USERNAME",
		short: "Delete a user account",
		long: heredoc.Doc(`
			Delete an account. Its refresh tokens stop working at once; access
			tokens already issued expire within auth.jwt_expiry. Asks for
			confirmation on a terminal; elsewhere needs --yes. The only admin
			cannot be deleted: make another account admin first.
		`),
		example: heredoc.Doc(`
			$ tarsctl users delete alice
			$ tarsctl users delete ci-bot --yes
		`),
		args: cmdutil.ExactArgs(1, "a USERNAME"),
		setup: func(cmd *cobra.Command, o *ModifyOptions) {
			cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "do not ask for confirmation")
			cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "say what would be deleted and stop")
		},
		check: func(o *ModifyOptions, _ []string) error {
			if o.DryRun {
				return nil
			}
			return cmdutil.RequireConfirmation(o.IO, o.Yes, fmt.Sprintf("deleting %q", o.Username))
		},
		run: deleteRun,
	})
}

func deleteRun(ctx context.Context, opts *ModifyOptions) error {
	db, err := opts.Open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := db.GetUser(ctx, opts.Username)
	if err != nil {
		return notFound(err, opts.Username)
	}
	st := ui.NewStatus(opts.IO, opts.Quiet)
	if opts.DryRun {
		st.Info("would delete user %s (%s)", u.Username, u.Role)
		return nil
	}
	if err := cmdutil.Confirm(opts.IO, opts.Yes, fmt.Sprintf("deleting %q", u.Username), fmt.Sprintf("Delete user %s (%s)?", u.Username, u.Role)); err != nil {
		return err
	}
	if err := db.DeleteUser(ctx, opts.Username); err != nil {
		return notFound(err, opts.Username)
	}
	st.Success("Deleted user %s", opts.Username)
	return nil
}
