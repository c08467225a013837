// Package users implements `tarsctl users`: manage dashboard accounts in
// the configured store (SQLite in the data dir, or PostgreSQL).
package users

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/services/dashboardapi"
	"github.com/tars-ops/tarsctl/internal/store"
)

// Store is what the users commands need from the account store.
type Store interface {
	CreateUser(ctx context.Context, u store.User) error
	GetUser(ctx context.Context, username string) (store.User, error)
	ListUsers(ctx context.Context) ([]store.User, error)
	UpdatePassword(ctx context.Context, username, hash string) error
	SetRole(ctx context.Context, username, role string) error
	SetTOTPSecret(ctx context.Context, username, secret string) error
	DeleteUser(ctx context.Context, username string) error
	Close() error
}

// NewCmdUsers returns the `tarsctl users` command group.
func NewCmdUsers(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users <command>",
		Short: "Manage dashboard API accounts",
		Long: heredoc.Doc(`
			Manage the dashboard API's user accounts in the configured store: the
			SQLite file in the data directory (database.driver sqlite), or
			PostgreSQL (database.url or database.host...). Roles: admin (manages
			users), operator (acts), viewer (reads).

			Passwords are read from the terminal without echo, or from stdin with
			--password-stdin; never from the command line, where ps and shell
			history would keep them.
		`),
	}
	cmdutil.GroupCommand(cmd)
	open := func(ctx context.Context) (Store, error) {
		cfg, err := f.Config()
		if err != nil {
			return nil, err
		}
		db, err := dashboardapi.OpenStore(ctx, cfg, f.Getenv)
		if err != nil {
			return nil, cmdutil.Unreachable(err)
		}
		return db, nil
	}
	cmd.AddCommand(
		NewCmdAdd(f, open, nil),
		NewCmdList(f, open, nil),
		NewCmdPasswd(f, open, nil),
		NewCmdSetRole(f, open, nil),
		NewCmdSetTOTP(f, open, nil),
		NewCmdDelete(f, open, nil),
	)
	return cmd
}

// readPassword gets a new password: one line from stdin with
// --password-stdin, else typed twice at the terminal.
func readPassword(ios *iostreams.IOStreams, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(io.LimitReader(ios.In, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", cmdutil.FlagErrorf("--password-stdin: stdin held no password")
		}
		return pw, checkPassword(pw)
	}
	if !ios.IsStdinTTY() {
		return "", cmdutil.FlagErrorf("no terminal to prompt for the password: pass it on stdin with --password-stdin")
	}
	pw, err := ios.ReadPassword("New password: ")
	if err != nil {
		return "", err
	}
	if err := checkPassword(pw); err != nil {
		return "", err
	}
	again, err := ios.ReadPassword("Repeat password: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", cmdutil.FlagErrorf("the passwords do not match")
	}
	return pw, nil
}

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 12

func checkPassword(pw string) error {
	if len(pw) < MinPasswordLen {
		return cmdutil.FlagErrorf("the password is too short: use at least %d characters", MinPasswordLen)
	}
	return nil
}

func checkRole(role string) error {
	if !slices.Contains(store.Roles, role) {
		return cmdutil.FlagErrorf("invalid role %q: expected one of %s", role, strings.Join(store.Roles, ", "))
	}
	return nil
}

// notFound turns store.ErrNotFound into a clear error with a hint.
func notFound(err error, username string) error {
	if errors.Is(err, store.ErrNotFound) {
		return cmdutil.WithHint(fmt.Errorf("user %q not found", username), "run `tarsctl users list` to see the accounts")
	}
	if errors.Is(err, store.ErrLastAdmin) {
		return cmdutil.WithHint(cmdutil.Failed(fmt.Errorf("%q is the only admin: without an admin nobody can manage users through the API", username)),
			"make another account admin first: tarsctl users set-role OTHER admin")
	}
	return err
}

func completeRoles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return store.Roles, cobra.ShellCompDirectiveNoFileComp
}
