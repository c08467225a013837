package backup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/backup"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// PruneOptions are the inputs of `tarsctl backup prune`.
type PruneOptions struct {
	IO       *iostreams.IOStreams
	Now      func() time.Time
	Location *time.Location // nil: local time

	Repo   string
	Policy backup.Policy
	Yes    bool
	DryRun bool

	Output string
	Quiet  bool
}

// NewCmdPrune returns `tarsctl backup prune`.
func NewCmdPrune(f *cmdutil.Factory, runF func(context.Context, *PruneOptions) error) *cobra.Command {
	opts := &PruneOptions{IO: f.IOStreams, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "prune --repo DIR --keep-last N | --keep-daily N | --keep-weekly N | --keep-monthly N [--yes]",
		Short: "Remove the backups a retention policy does not keep",
		Long: heredoc.Doc(`
			Decide which backups to keep, print the plan, and remove the others.

			--keep-last N     the N newest backups
			--keep-daily N    the newest backup of each of the N most recent days
			                  that have one (in local time)
			--keep-weekly N   likewise for ISO weeks
			--keep-monthly N  likewise for months

			A backup kept by any rule is kept. Whatever the rules, the newest backup
			whose latest verification passed is never removed. The runbook's
			retention is --keep-daily 7 locally; with --keep-daily 30
			--keep-monthly 3 a repository spans three months.

			The plan is printed first (id, time, keep or remove, and why). Backups
			are removed only with --yes, or after confirming on a terminal;
			--dry-run prints the plan and stops. Prune takes the repository lock and
			also deletes what interrupted backups left behind. With -o json, one
			document: {"plan": [...], "removed": [...], "dry_run"}.

			EXIT STATUS
			  0    the plan was carried out (or printed, with --dry-run)
			  1    removing failed, or the repository is locked by a backup
			  2    bad usage: no keep rule, or no --yes without a terminal
		`),
		Example: heredoc.Doc(`
			$ tarsctl backup prune --keep-daily 7 --dry-run --repo /var/backups/tars
			$ tarsctl backup prune --keep-daily 30 --keep-monthly 3 --yes --repo /var/backups/tars
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output = f.Globals.Output
			opts.Quiet = f.Globals.Quiet
			if err := checkRepoFlag(opts.Repo); err != nil {
				return err
			}
			p := opts.Policy
			if p.Last < 0 || p.Daily < 0 || p.Weekly < 0 || p.Monthly < 0 {
				return cmdutil.FlagErrorf("--keep-* values must not be negative")
			}
			if p.Empty() {
				return cmdutil.FlagErrorf("give at least one of --keep-last, --keep-daily, --keep-weekly, --keep-monthly: prune never removes every backup")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return pruneRun(cmd.Context(), opts)
		},
	}
	addRepoFlag(cmd, &opts.Repo)
	fl := cmd.Flags()
	fl.IntVar(&opts.Policy.Last, "keep-last", 0, "keep the `N` newest backups")
	fl.IntVar(&opts.Policy.Daily, "keep-daily", 0, "keep the newest backup of each of the last `N` days with one")
	fl.IntVar(&opts.Policy.Weekly, "keep-weekly", 0, "keep the newest backup of each of the last `N` weeks with one")
	fl.IntVar(&opts.Policy.Monthly, "keep-monthly", 0, "keep the newest backup of each of the last `N` months with one")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "remove without asking")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the plan and stop")
	return cmd
}

type planJSON struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Keep    bool      `json:"keep"`
	Reasons []string  `json:"reasons"`
}

func pruneRun(ctx context.Context, opts *PruneOptions) error {
	r, err := openRepo(opts.Repo)
	if err != nil {
		return err
	}
	sets, err := r.List()
	if err != nil {
		return err
	}
	policy := opts.Policy
	policy.Location = opts.Location
	plan, err := backup.PlanPrune(sets, policy)
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	jsonMode := opts.Output == cmdutil.OutputJSON
	st := ui.NewStatus(opts.IO, opts.Quiet || jsonMode)
	removals := plan.Removals()
	doc := map[string]any{"dry_run": opts.DryRun, "removed": []string{}}
	var entries []planJSON
	t := ui.NewTable(opts.IO, "id", "time", "action", "reason")
	if opts.Now != nil {
		t.SetNow(opts.Now)
	}
	for _, d := range plan {
		entries = append(entries, planJSON{ID: d.Set.ID, Time: d.Set.Time().UTC(), Keep: d.Keep, Reasons: nonNil(d.Reasons)})
		action := "remove"
		if d.Keep {
			action = "keep"
		}
		t.AddRow(d.Set.ID, t.Time(d.Set.Time()), action, strings.Join(d.Reasons, ", "))
	}
	doc["plan"] = nonNilPlan(entries)
	if !jsonMode {
		if err := t.Render(); err != nil {
			return err
		}
	}
	finish := func() error {
		if jsonMode {
			return ui.WriteJSON(opts.IO.Out, doc)
		}
		return nil
	}
	switch {
	case len(removals) == 0:
		st.Info("nothing to remove: the policy keeps all %d backups", len(sets))
		return finish()
	case opts.DryRun:
		st.Info("dry run: would remove %d of %d backups", len(removals), len(sets))
		return finish()
	}
	action := fmt.Sprintf("removing %d of %d backups", len(removals), len(sets))
	err = cmdutil.Confirm(opts.IO, opts.Yes, action, fmt.Sprintf("Remove %d of %d backups?", len(removals), len(sets)),
		"--dry-run only prints the plan")
	if err != nil {
		_ = finish()
		return err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	res, err := r.Prune(ctx, plan, now())
	if res != nil {
		doc["removed"] = nonNil(res.Removed)
		if res.StaleLock != nil {
			st.Warning("took over the lock left by %s: that process did not finish", res.StaleLock)
		}
		for _, id := range res.Skipped {
			st.Warning("kept %s: it is gone or became the newest verified backup since the plan was made", id)
		}
	}
	if err != nil {
		_ = finish()
		return explain(err, opts.Repo)
	}
	st.Success("Removed %d backup(s); %d kept", len(res.Removed), len(sets)-len(res.Removed))
	return finish()
}

func nonNilPlan(p []planJSON) []planJSON {
	if p == nil {
		return []planJSON{}
	}
	return p
}
