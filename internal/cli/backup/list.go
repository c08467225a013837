package backup

import (
	"context"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/backup"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// ListOptions are the inputs of `tarsctl backup list`.
type ListOptions struct {
	IO  *iostreams.IOStreams
	Now func() time.Time

	Repo   string
	Output string
	Quiet  bool
}

// NewCmdList returns `tarsctl backup list`.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Now: f.Now}
	cmd := &cobra.Command{
		Use:     "list --repo DIR",
		Aliases: []string{"ls"},
		Short:   "List the backups in a repository",
		Long: heredoc.Doc(`
			List the complete backups in the repository, newest first: id, time,
			parts, size, tags, and the result of the latest verification — "ok"
			with its level (checksums, contents or deep), "FAILED", or "damaged"
			when the manifest cannot be read. A backup that was interrupted is never
			listed; a warning on stderr says one was found.

			Without a terminal, rows are tab-separated with RFC 3339 times and sizes
			in bytes. -o json prints an array of objects.
		`),
		Example: heredoc.Doc(`
			$ tarsctl backup list --repo /var/backups/tars
			$ tarsctl backup list --repo /var/backups/tars -o json | jq -r '.[0].id'
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output = f.Globals.Output
			opts.Quiet = f.Globals.Quiet
			if err := checkRepoFlag(opts.Repo); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	addRepoFlag(cmd, &opts.Repo)
	return cmd
}

// setJSON is one backup in list and status -o json.
type setJSON struct {
	ID             string               `json:"id"`
	Time           time.Time            `json:"time"`
	Parts          []string             `json:"parts"`
	Size           int64                `json:"size"`
	Tags           []string             `json:"tags"`
	Encrypted      bool                 `json:"encrypted"`
	KeyID          string               `json:"key_id,omitempty"`
	Profile        string               `json:"profile"`
	Host           string               `json:"host"`
	TarsctlVersion string               `json:"tarsctl_version"`
	Verified       *backup.VerifyStatus `json:"verified"`
	Damaged        string               `json:"damaged,omitempty"`
}

func toJSON(s *backup.Set) setJSON {
	out := setJSON{ID: s.ID, Time: s.Time().UTC(), Parts: partNames(s.Manifest), Tags: []string{}, Verified: s.Verified}
	if m := s.Manifest; m != nil {
		out.Size, out.Tags, out.Profile, out.Host, out.TarsctlVersion = m.Size(), m.Tags, m.Profile, m.Host, m.TarsctlVersion
		out.Encrypted, out.KeyID = m.Encryption != nil, keyIDOf(m)
	} else {
		out.Damaged = s.Err.Error()
	}
	return out
}

// verifiedCell describes the latest verification of a set.
func verifiedCell(s *backup.Set) string {
	switch {
	case s.Manifest == nil:
		return "damaged"
	case s.Verified == nil:
		return "never"
	case s.Verified.OK:
		return "ok (" + s.Verified.Level + ")"
	default:
		return "FAILED"
	}
}

func listRun(_ context.Context, opts *ListOptions) error {
	r, err := openRepo(opts.Repo)
	if err != nil {
		return err
	}
	sets, err := r.List()
	if err != nil {
		return err
	}
	if inc, _ := r.Incomplete(); len(inc) > 0 {
		ui.NewStatus(opts.IO, opts.Quiet).Warning("%d incomplete backup(s), being written or left by an interrupted run: %s",
			len(inc), strings.Join(inc, ", "))
	}
	if opts.Output == cmdutil.OutputJSON {
		out := make([]setJSON, 0, len(sets))
		for _, s := range sets {
			out = append(out, toJSON(s))
		}
		return ui.WriteJSON(opts.IO.Out, out)
	}
	t := ui.NewTable(opts.IO, "id", "time", "parts", "size", "tags", "verified", "checked")
	if opts.Now != nil {
		t.SetNow(opts.Now)
	}
	for _, s := range sets {
		var size, tags, checked string
		if s.Manifest != nil {
			size, tags = sizeCell(opts.IO, s.Manifest.Size()), strings.Join(s.Manifest.Tags, ",")
		}
		if s.Verified != nil {
			checked = t.Time(s.Verified.Time)
		}
		t.AddRow(s.ID, t.Time(s.Time()), strings.Join(partNames(s.Manifest), ","), size, tags, verifiedCell(s), checked)
	}
	return t.Render()
}
