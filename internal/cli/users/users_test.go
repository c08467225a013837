package users

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/store"
)

// opener opens one real SQLite store in a temp dir, again on every call,
// as each command run does.
func opener(t *testing.T) func(context.Context) (Store, error) {
	path := filepath.Join(t.TempDir(), "tars.db")
	return func(ctx context.Context) (Store, error) {
		return store.Open(ctx, store.Options{Driver: "sqlite", Path: path})
	}
}

func TestAddListPasswdSetRoleDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	open := opener(t)

	ios, in, out, errOut := iostreams.Test()
	in.WriteString("correct horse battery\n")
	if err := addRun(ctx, &AddOptions{IO: ios, Open: open, Username: "alice", Role: "operator", PasswordStdin: true}); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 || !strings.Contains(errOut.String(), "✓ Created user alice (operator)") {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}

	ios, in, _, _ = iostreams.Test()
	in.WriteString("another good password\n")
	err := addRun(ctx, &AddOptions{IO: ios, Open: open, Username: "alice", Role: "viewer", PasswordStdin: true})
	if err == nil || !strings.Contains(err.Error(), `user "alice" already exists`) || len(cmdutil.Hints(err)) == 0 {
		t.Errorf("duplicate add: %v", err)
	}

	ios, in, out, _ = iostreams.Test()
	in.WriteString("bob's password 123\n")
	if err := addRun(ctx, &AddOptions{IO: ios, Open: open, Username: "bob", Role: "admin", PasswordStdin: true, TOTP: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "otpauth://totp/") {
		t.Errorf("--totp stdout = %q, want the otpauth URL", out)
	}

	ios, _, out, _ = iostreams.Test()
	if err := listRun(ctx, &ListOptions{IO: ios, Open: open, Output: "json"}); err != nil {
		t.Fatal(err)
	}
	var list []userJSON
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Username != "alice" || list[0].MFA || !list[1].MFA || list[1].Role != "admin" {
		t.Errorf("list = %+v", list)
	}
	if strings.Contains(out.String(), "argon2") {
		t.Error("list shows a password hash")
	}

	ios, _, out, _ = iostreams.Test()
	if err := listRun(ctx, &ListOptions{IO: ios, Open: open, Output: "text", Now: time.Now}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "alice\toperator\tno\t") {
		t.Errorf("text list = %q", out)
	}

	ios, in, _, _ = iostreams.Test()
	in.WriteString("a brand new password\n")
	if err := passwdRun(ctx, &ModifyOptions{IO: ios, Open: open, Username: "alice", PasswordStdin: true}); err != nil {
		t.Fatal(err)
	}
	db, _ := open(ctx)
	u, _ := db.GetUser(ctx, "alice")
	db.Close()
	if ok, _ := store.CheckPassword(u.PasswordHash, "a brand new password"); !ok {
		t.Error("passwd did not change the password")
	}

	ios, _, _, _ = iostreams.Test()
	err = passwdRun(ctx, &ModifyOptions{IO: ios, Open: open, Username: "nobody", PasswordStdin: true})
	if err == nil || err.Error() != `user "nobody" not found` {
		t.Errorf("passwd of a missing user: %v", err)
	}

	cmdSetRole := NewCmdSetRole(&cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{}}, open, nil)
	cmdSetRole.SetArgs([]string{"alice", "admin"})
	if err := cmdSetRole.Execute(); err != nil {
		t.Fatal(err)
	}
	db, _ = open(ctx)
	u, _ = db.GetUser(ctx, "alice")
	db.Close()
	if u.Role != "admin" {
		t.Errorf("role = %s, want admin", u.Role)
	}

	ios, _, _, errOut = iostreams.Test()
	if err := deleteRun(ctx, &ModifyOptions{IO: ios, Open: open, Username: "alice", DryRun: true}); err != nil || !strings.Contains(errOut.String(), "would delete user alice") {
		t.Errorf("dry run: %v %q", err, errOut)
	}
	if err := deleteRun(ctx, &ModifyOptions{IO: ios, Open: open, Username: "alice", Yes: true}); err != nil {
		t.Fatal(err)
	}
	db, _ = open(ctx)
	_, err = db.GetUser(ctx, "alice")
	db.Close()
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("alice still there: %v", err)
	}

	// bob is now the only admin: neither deleted nor demoted.
	err = deleteRun(ctx, &ModifyOptions{IO: ios, Open: open, Username: "bob", Yes: true})
	var exitErr *cmdutil.ExitError
	if !errors.As(err, &exitErr) || exitErr.Code != cmdutil.ExitFailure || !strings.Contains(err.Error(), `"bob" is the only admin`) || len(cmdutil.Hints(err)) == 0 {
		t.Errorf("deleting the last admin: %v, want exit 1 with a hint", err)
	}
	cmdSetRole.SetArgs([]string{"bob", "viewer"})
	if err := cmdSetRole.Execute(); err == nil || !strings.Contains(err.Error(), "only admin") {
		t.Errorf("demoting the last admin: %v", err)
	}
}

func TestNewCmdFlagChecks(t *testing.T) {
	t.Parallel()
	noAdd := func(context.Context, *AddOptions) error { return nil }
	noModify := func(context.Context, *ModifyOptions) error { return nil }
	tests := []struct {
		name    string
		cmd     func(*cmdutil.Factory) *cobra.Command
		args    []string
		wantErr string
	}{
		{"bad role", func(f *cmdutil.Factory) *cobra.Command { return NewCmdAdd(f, nil, noAdd) },
			[]string{"alice", "--role", "root"}, `invalid role "root": expected one of admin, operator, viewer`},
		{"bad username", func(f *cmdutil.Factory) *cobra.Command { return NewCmdAdd(f, nil, noAdd) },
			[]string{"al ice"}, `invalid username "al ice"`},
		{"delete needs --yes off a terminal", func(f *cmdutil.Factory) *cobra.Command { return NewCmdDelete(f, nil, noModify) },
			[]string{"alice"}, `needs --yes when not on a terminal`},
		{"set-role needs two args", func(f *cmdutil.Factory) *cobra.Command { return NewCmdSetRole(f, nil, noModify) },
			[]string{"alice"}, `needs a USERNAME and a ROLE`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			c := tt.cmd(&cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{}})
			c.SetArgs(tt.args)
			c.SetOut(ios.Out)
			c.SetErr(ios.ErrOut)
			err := c.Execute()
			var fe *cmdutil.FlagError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want usage error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestPasswordInput(t *testing.T) {
	t.Parallel()
	ios, in, _, _ := iostreams.Test()
	in.WriteString("short\n")
	if _, err := readPassword(ios, true); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("short password: %v", err)
	}
	ios, _, _, _ = iostreams.Test()
	if _, err := readPassword(ios, false); err == nil || !strings.Contains(err.Error(), "--password-stdin") {
		t.Errorf("no terminal: %v", err)
	}
}
