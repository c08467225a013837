package backup

import (
	"context"
	"fmt"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/backup"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// StatusOptions are the inputs of `tarsctl backup status`.
type StatusOptions struct {
	IO  *iostreams.IOStreams
	Now func() time.Time

	Repo   string
	MaxAge time.Duration

	Output string
	Quiet  bool
}

// NewCmdStatus returns `tarsctl backup status`.
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IOStreams, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "status --repo DIR [--max-age DURATION]",
		Short: "Say whether a recent good backup exists, for monitors and cron",
		Long: heredoc.Doc(`
			Report the newest good backup — the newest whose latest verification
			passed — with its age, and fail when there is none or when it is older
			than --max-age. Also reports a backup or prune that holds the lock, a
			lock left by a killed run, and incomplete backups.

			With -o json: {"ok", "id", "time", "age_seconds", "max_age_seconds",
			"backups", "incomplete", "lock"}.

			EXIT STATUS
			  0    a good backup exists and is recent enough
			  1    there is no good backup, or the newest is older than --max-age
			  2    bad usage: --repo is not a repository
		`),
		Example: heredoc.Doc(`
			$ tarsctl backup status --repo /var/backups/tars --max-age 26h
			$ tarsctl backup status --repo /var/backups/tars -o json | jq .age_seconds
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output = f.Globals.Output
			opts.Quiet = f.Globals.Quiet
			if err := checkRepoFlag(opts.Repo); err != nil {
				return err
			}
			if opts.MaxAge < 0 {
				return cmdutil.FlagErrorf("--max-age must not be negative")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	addRepoFlag(cmd, &opts.Repo)
	cmd.Flags().DurationVar(&opts.MaxAge, "max-age", 0, "fail when the newest good backup is older than this, such as 26h (default: no limit)")
	return cmd
}

type lockJSON struct {
	backupLockRef
	Stale bool `json:"stale"`
}

type statusJSON struct {
	OK            bool      `json:"ok"`
	ID            string    `json:"id"`
	Time          time.Time `json:"time"`
	AgeSeconds    float64   `json:"age_seconds"`
	MaxAgeSeconds float64   `json:"max_age_seconds"`
	Backups       int       `json:"backups"`
	Incomplete    []string  `json:"incomplete"`
	Lock          *lockJSON `json:"lock"`
	Problem       string    `json:"problem,omitempty"`
}

func statusRun(_ context.Context, opts *StatusOptions) error {
	r, err := openRepo(opts.Repo)
	if err != nil {
		return err
	}
	sets, err := r.List()
	if err != nil {
		return err
	}
	incomplete, _ := r.Incomplete()
	lock, _ := r.LockState()
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	var good *backup.Set
	for _, s := range sets {
		if s.Good() {
			good = s
			break
		}
	}
	out := statusJSON{Backups: len(sets), Incomplete: nonNil(incomplete), MaxAgeSeconds: opts.MaxAge.Seconds()}
	if lock.Holder != nil {
		out.Lock = &lockJSON{backupLockRef: *lockRef(lock.Holder), Stale: lock.Stale}
	}
	var problem error
	if good == nil {
		problem = fmt.Errorf("no good backup in %s (%d backups, none with a passing verification)", opts.Repo, len(sets))
	} else {
		age := now().Sub(good.Time())
		out.ID, out.Time, out.AgeSeconds = good.ID, good.Time().UTC(), age.Seconds()
		if opts.MaxAge > 0 && age > opts.MaxAge {
			problem = fmt.Errorf("the newest good backup, %s, is %s old: older than --max-age %s", good.ID, roundAge(age), opts.MaxAge)
		}
	}
	out.OK = problem == nil
	if problem != nil {
		out.Problem = problem.Error()
	}

	if opts.Output == cmdutil.OutputJSON {
		if err := ui.WriteJSON(opts.IO.Out, out); err != nil {
			return err
		}
	} else {
		st := ui.NewStatus(opts.IO, opts.Quiet)
		if lock.Holder != nil {
			if lock.Stale {
				st.Warning("stale lock: %s is no longer running; the next backup or prune takes the lock over", lock.Holder)
			} else {
				st.Info("locked by %s", lock.Holder)
			}
		}
		if len(incomplete) > 0 && (lock.Holder == nil || lock.Stale) {
			st.Warning("%d incomplete backup(s) left by an interrupted run; the next backup removes them", len(incomplete))
		}
		if good != nil && !opts.Quiet {
			fmt.Fprintf(opts.IO.Out, "%s\t%s\t%s\n", good.ID, good.Time().UTC().Format(time.RFC3339), roundAge(now().Sub(good.Time())))
		}
		if problem == nil {
			st.Success("newest good backup %s is %s old", good.ID, roundAge(now().Sub(good.Time())))
		}
	}
	if problem != nil {
		return cmdutil.Failed(cmdutil.WithHint(problem, "check the backup job's log; `tarsctl backup list --repo "+opts.Repo+"` shows every backup and its verification"))
	}
	return nil
}

func roundAge(d time.Duration) time.Duration {
	if d > time.Hour {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}
