package users

import (
	"context"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// ListOptions are the inputs of `tarsctl users list`.
type ListOptions struct {
	IO     *iostreams.IOStreams
	Open   func(context.Context) (Store, error)
	Output string
	Now    func() time.Time
}

// NewCmdList returns `tarsctl users list`.
func NewCmdList(f *cmdutil.Factory, open func(context.Context) (Store, error), runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Open: open, Now: f.Now}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List user accounts",
		Long:    "List the accounts with their role, whether they have a second factor, and when they were created.",
		Example: heredoc.Doc(`
			$ tarsctl users list
			$ tarsctl users list -o json | jq -r '.[] | select(.role=="admin") | .username'
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output = f.Globals.Output
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	return cmd
}

type userJSON struct {
	Username  string    `json:"username"`
	Role      string    `json:"role"`
	MFA       bool      `json:"mfa"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func listRun(ctx context.Context, opts *ListOptions) error {
	db, err := opts.Open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	users, err := db.ListUsers(ctx)
	if err != nil {
		return err
	}
	if opts.Output == cmdutil.OutputJSON {
		out := make([]userJSON, 0, len(users))
		for _, u := range users {
			out = append(out, userJSON{u.Username, u.Role, u.TOTPSecret != "", u.CreatedAt.UTC(), u.UpdatedAt.UTC()})
		}
		return ui.WriteJSON(opts.IO.Out, out)
	}
	t := ui.NewTable(opts.IO, "username", "role", "mfa", "created")
	if opts.Now != nil {
		t.SetNow(opts.Now)
	}
	for _, u := range users {
		mfa := "no"
		if u.TOTPSecret != "" {
			mfa = "yes"
		}
		t.AddRow(u.Username, u.Role, mfa, t.Time(u.CreatedAt))
	}
	return t.Render()
}
