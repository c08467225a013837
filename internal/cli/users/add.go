package users

import (
	"context"
	"errors"
	"fmt"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// AddOptions are the inputs of `tarsctl users add`.
type AddOptions struct {
	IO            *iostreams.IOStreams
	Open          func(context.Context) (Store, error)
	Username      string
	Role          string
	PasswordStdin bool
	TOTP          bool
	Quiet         bool
}

// NewCmdAdd returns `tarsctl users add`.
func NewCmdAdd(f *cmdutil.Factory, open func(context.Context) (Store, error), runF func(context.Context, *AddOptions) error) *cobra.Command {
	opts := &AddOptions{IO: f.IOStreams, Open: open}
	cmd := &cobra.Command{
		Use:   "add USERNAME",
		Short: "Create a user account",
		Long: heredoc.Doc(`
			Create an account with a role (default viewer). The password is asked
			for twice at the terminal, or read from one line of stdin with
			--password-stdin. With --totp a TOTP secret is enrolled and its
			otpauth:// URL printed on stdout, to load into an authenticator app;
			the production profile requires it (auth.require_mfa).
		`),
		Example: heredoc.Doc(`
			$ tarsctl users add alice --role operator
			$ printf '%s\n' "$PASSWORD" | tarsctl users add ci-bot --role viewer --password-stdin
			$ tarsctl users add bob --role admin --totp --profile production
		`),
		Args: cmdutil.ExactArgs(1, "a USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Username, opts.Quiet = args[0], f.Globals.Quiet
			if err := checkRole(opts.Role); err != nil {
				return err
			}
			if err := checkUsername(opts.Username); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return addRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Role, "role", store.RoleViewer, "role: admin, operator or viewer")
	cmd.Flags().BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the password from stdin")
	cmd.Flags().BoolVar(&opts.TOTP, "totp", false, "enrol a TOTP second factor and print its otpauth:// URL")
	_ = cmd.RegisterFlagCompletionFunc("role", completeRoles)
	return cmd
}

func addRun(ctx context.Context, opts *AddOptions) error {
	pw, err := readPassword(opts.IO, opts.PasswordStdin)
	if err != nil {
		return err
	}
	hash, err := store.HashPassword(pw)
	if err != nil {
		return err
	}
	u := store.User{Username: opts.Username, PasswordHash: hash, Role: opts.Role}
	if opts.TOTP {
		u.TOTPSecret = auth.NewTOTPSecret()
	}
	db, err := opts.Open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrExists) {
			return cmdutil.WithHint(fmt.Errorf("user %q already exists", opts.Username), "change its password with `tarsctl users passwd` or its role with `tarsctl users set-role`")
		}
		return err
	}
	ui.NewStatus(opts.IO, opts.Quiet).Success("Created user %s (%s)", opts.Username, opts.Role)
	if opts.TOTP {
		fmt.Fprintln(opts.IO.Out, auth.TOTPURL(u.TOTPSecret, u.Username))
	}
	return nil
}

func checkUsername(name string) error {
	if len(name) == 0 || len(name) > 64 {
		return cmdutil.FlagErrorf("invalid username %q: use 1 to 64 characters", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '@') {
			return cmdutil.FlagErrorf("invalid username %q: use letters, digits and - _ . @", name)
		}
	}
	return nil
}
