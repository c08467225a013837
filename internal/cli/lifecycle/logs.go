package lifecycle

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/services"
)

// LogsOptions are the inputs of `tarsctl logs`.
type LogsOptions struct {
	IO      *iostreams.IOStreams
	LogFile func() (string, error)
	Follow  bool
	Since   time.Duration
	Grep    *regexp.Regexp
	Tail    int
	Now     func() time.Time
	// PollInterval is how often -f looks for new lines.
	PollInterval time.Duration
}

// NewCmdLogs returns `tarsctl logs`.
func NewCmdLogs(f *cmdutil.Factory, runF func(context.Context, *LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{IO: f.IOStreams, Now: f.Now, PollInterval: 200 * time.Millisecond}
	var grep string
	cmd := &cobra.Command{
		Use:   "logs SERVICE",
		Short: "Print (and follow) a daemon's log",
		Long: heredoc.Docf(`
			Print the log of a daemon started with tarsctl start: LOG_DIR/SERVICE.log,
			or the runbook's name for it where that differs%s.
			--since also reads the rotated files (SERVICE.log.1, ...) and keeps
			lines newer than the duration; --grep keeps lines matching a regular
			expression; -f keeps printing new lines as they come, across
			rotations, until interrupted.
		`, logNameExceptions()),
		Example: heredoc.Doc(`
			$ tarsctl logs dashboard-api --since 1h --grep '401 Unauthorized'
			$ tarsctl logs orchestration-agent -f --grep 'Training (completed|failed)'
			$ tarsctl logs dashboard-api --tail 100
		`),
		Args:              cmdutil.ExactArgs(1, "a SERVICE"),
		ValidArgsFunction: completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			svcs, err := selectServices(args, false, false)
			if err != nil {
				return err
			}
			if grep != "" {
				re, err := regexp.Compile(grep)
				if err != nil {
					return cmdutil.FlagErrorf("invalid --grep %q: %v", grep, err)
				}
				opts.Grep = re
			}
			if opts.Since < 0 || opts.Tail < 0 {
				return cmdutil.FlagErrorf("--since and --tail must not be negative")
			}
			opts.LogFile = func() (string, error) {
				cfg, err := f.Config()
				if err != nil {
					return "", err
				}
				spec, _ := services.Lookup(svcs[0])
				return spec.LogFile(cfg.Paths.LogDirPath()), nil
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return logsRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new lines")
	cmd.Flags().DurationVar(&opts.Since, "since", 0, "only lines newer than this, e.g. 30m or 2h")
	cmd.Flags().StringVar(&grep, "grep", "", "only lines matching this regular expression")
	cmd.Flags().IntVarP(&opts.Tail, "tail", "n", 0, "only the last N lines (0: all)")
	return cmd
}

func logsRun(ctx context.Context, opts *LogsOptions) error {
	path, err := opts.LogFile()
	if err != nil {
		return err
	}
	var files []string
	if opts.Since > 0 {
		// Oldest rotated file first.
		for i := 20; i >= 1; i-- {
			if p := fmt.Sprintf("%s.%d", path, i); fileExists(p) {
				files = append(files, p)
			}
		}
	}
	if !fileExists(path) {
		return cmdutil.WithHint(cmdutil.Failed(fmt.Errorf("no log file %s", path)), "has the service been started here? `tarsctl start SERVICE` writes it")
	}
	files = append(files, path)

	filter := newLineFilter(opts)
	var tail []string
	emit := func(line string) {
		if !filter.keep(line) {
			return
		}
		if opts.Tail > 0 {
			tail = append(tail, line)
			if len(tail) > opts.Tail {
				tail = tail[1:]
			}
			return
		}
		fmt.Fprintln(opts.IO.Out, line)
	}
	var offset int64
	for _, p := range files {
		n, err := readLines(p, 0, emit)
		if err != nil {
			return err
		}
		offset = n
	}
	for _, l := range tail {
		fmt.Fprintln(opts.IO.Out, l)
	}
	if !opts.Follow {
		return nil
	}
	opts.Tail = 0
	return follow(ctx, path, offset, opts.PollInterval, emit)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// readLines calls emit for each complete line of path from offset and
// returns the offset after the last complete line.
func readLines(path string, offset int64, emit func(string)) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return offset, fmt.Errorf("read log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset, err
	}
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			// A partial last line waits for its newline.
			return offset, nil
		}
		offset += int64(len(line))
		emit(strings.TrimRight(line, "\r\n"))
	}
}

// follow prints lines appended to path until ctx ends, reopening the file
// when it is rotated (it shrinks or is replaced).
func follow(ctx context.Context, path string, offset int64, every time.Duration, emit func(string)) error {
	var lastIno uint64
	if fi, err := os.Stat(path); err == nil {
		lastIno = inode(fi)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		fi, err := os.Stat(path)
		if err != nil {
			continue // between rename and re-create
		}
		if ino := inode(fi); ino != lastIno || fi.Size() < offset {
			lastIno, offset = ino, 0
		}
		if fi.Size() == offset {
			continue
		}
		n, err := readLines(path, offset, emit)
		if err != nil {
			return err
		}
		offset = n
	}
}

// lineFilter applies --since and --grep. A line without a timestamp (a
// stack trace, a wrapped message) goes with the line before it.
type lineFilter struct {
	opts      *LogsOptions
	cutoff    time.Time
	lastAfter bool
}

func newLineFilter(opts *LogsOptions) *lineFilter {
	lf := &lineFilter{opts: opts, lastAfter: true}
	if opts.Since > 0 {
		lf.cutoff = opts.Now().Add(-opts.Since)
		lf.lastAfter = false
	}
	return lf
}

func (lf *lineFilter) keep(line string) bool {
	if !lf.cutoff.IsZero() {
		if ts, ok := lineTime(line); ok {
			lf.lastAfter = !ts.Before(lf.cutoff)
		}
		if !lf.lastAfter {
			return false
		}
	}
	return lf.opts.Grep == nil || lf.opts.Grep.MatchString(line)
}

// lineTime reads the time a log line starts with: the text format's
// "2006-01-02 15:04:05" (local time) or the JSON format's "timestamp".
func lineTime(line string) (time.Time, bool) {
	if strings.HasPrefix(line, "{") {
		var rec struct {
			Timestamp time.Time `json:"timestamp"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && !rec.Timestamp.IsZero() {
			return rec.Timestamp, true
		}
		return time.Time{}, false
	}
	if len(line) >= 19 {
		if t, err := time.ParseInLocation("2006-01-02 15:04:05", line[:19], time.Local); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// logNameExceptions names the log files that are not SERVICE.log (the
// runbook's names), as " (orchestration-agent: multi-agent.log)".
func logNameExceptions() string {
	var out []string
	for _, e := range services.All() {
		if e.LogName != "" {
			out = append(out, e.Name+": "+filepath.Base(e.LogFile("")))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return " (" + strings.Join(out, ", ") + ")"
}
