package triage

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tars-ops/tarsctl/internal/compliance"
	"github.com/tars-ops/tarsctl/internal/redisconn"
)

// Root-cause verdicts.
const (
	Supported    = "supported"
	NotSupported = "not_supported"
	Unknown      = "unknown"
)

// Command is a resolution command. Tarsctl says it is tarsctl's own; Note
// says why it is not (a Kubernetes or runbook command tarsctl has no
// equivalent for yet) or what to do before running it.
type Command struct {
	Command string `json:"command"`
	Tarsctl bool   `json:"tarsctl"`
	Note    string `json:"note,omitempty"`
	// Manual is an action in words, not a command line.
	Manual bool `json:"manual,omitempty"`
}

func tarsctl(cmd string) Command { return Command{Command: "tarsctl " + cmd, Tarsctl: true} }

func tarsctlNote(cmd, note string) Command {
	return Command{Command: "tarsctl " + cmd, Tarsctl: true, Note: note}
}

// defaultAPIURL in a command is replaced by the configured API URL.
const defaultAPIURL = "http://127.0.0.1:3001"

const noTarsctl = "Kubernetes; tarsctl has no equivalent yet"

// rollbackNote: the chart's release is rolled back as a whole; kubectl
// rollout undo of one Deployment would be reverted by the next upgrade.
const rollbackNote = "rolls the whole release back to its previous revision (kubectl rollout undo)"

func external(cmd, note string) Command { return Command{Command: cmd, Note: note} }

func manual(action, note string) Command { return Command{Command: action, Note: note, Manual: true} }

// Cause is one row of a playbook's root-cause table, judged against the
// evidence.
type Cause struct {
	Row      string    `json:"row"`      // the table's first column: symptom, incident or control
	Cause    string    `json:"cause"`    // likely cause or violation
	Solution string    `json:"solution"` // the runbook's solution
	Verdict  string    `json:"verdict"`  // supported, not_supported, unknown
	Reason   string    `json:"reason"`   // the evidence behind the verdict
	Commands []Command `json:"commands"`
}

// PlaybookReport is the outcome of one playbook run.
type PlaybookReport struct {
	Playbook string    `json:"playbook"`
	Title    string    `json:"title"`
	Runbook  string    `json:"runbook"` // the runbook section
	Window   string    `json:"window"`
	Status   string    `json:"status"` // root_cause_found, no_root_cause, unreachable
	Steps    []Result  `json:"steps"`
	Causes   []Cause   `json:"causes"`     // the table's rows, in the runbook's order
	Next     []Command `json:"next_steps"` // supported rows' commands first, then the playbook's own
}

// Report statuses.
const (
	RootCauseFound = "root_cause_found"
	NoRootCause    = "no_root_cause"
	NothingReached = "unreachable"
)

// Sources say where a playbook's evidence is. Empty fields leave a step out.
type Sources struct {
	Now    func() time.Time
	Since  time.Duration // window of log and audit counts
	LogDir string
	// AuditFile is the audit log ("" when audit.enabled is false).
	AuditFile string
	// APIURL is dashboard-api's base URL.
	APIURL string
	// MetricsURLs are the /metrics URLs of every daemon, by service.
	MetricsURLs map[string]string
	Redis       *redisconn.Endpoint
	PostgresURL string
	CertFile    string
	Services    []string
	// Service reports a local daemon's state.
	Service func(ctx context.Context, name string) (ServiceState, error)
	// Compliance returns the compliance report and where it came from.
	Compliance func(ctx context.Context) (compliance.Report, string, error)
	// RateLimit is rate_limiting.requests_per_minute (0: unknown).
	RateLimit int
	// ProcessSample is how long CPU use is sampled (default 250ms).
	ProcessSample time.Duration
}

// Evidence is what a playbook's steps found. Steps write it concurrently;
// a field left nil was not collected, and Errs says why.
type Evidence struct {
	mu         sync.Mutex
	Results    map[string]Result
	Errs       map[string]string
	Metrics    *Latency
	Log        *Latency
	Process    *Process
	Logs       *LogCounts
	Audit      *AuditCounts
	Matches    map[string]int
	Compliance *compliance.Report
	Services   map[string]ServiceState
	RateLimits []RateLimit
	Sessions   *int
	Anomalies  *float64
}

func (e *Evidence) set(f func(*Evidence)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(e)
}

func (e *Evidence) missing(step, why string) {
	e.set(func(e *Evidence) { e.Errs[step] = why })
}

// why says why step's evidence is missing.
func (e *Evidence) why(step string) string {
	if w, ok := e.Errs[step]; ok {
		return w
	}
	return "step " + step + " did not run"
}

// Playbook is one of the runbook's incident response playbooks.
type Playbook struct {
	Name    string
	Title   string
	Runbook string
	steps   func(*Sources, *Evidence) []Check
	rows    []row
	general []Command
}

type row struct {
	row, cause, solution string
	commands             []Command
	judge                func(*Sources, *Evidence) (verdict, reason string)
}

// Playbooks returns the playbooks by name.
func Playbooks() map[string]*Playbook {
	m := map[string]*Playbook{}
	for _, p := range []*Playbook{highLatency(), anomaly(), kpiRegression(), security(), compliancePlaybook()} {
		m[p.Name] = p
	}
	return m
}

// PlaybookNames are the playbooks' names in the runbook's order.
func PlaybookNames() []string {
	return []string{"high-latency", "anomaly", "kpi-regression", "security", "compliance"}
}

// RunPlaybook runs p's steps concurrently, each under timeout, and judges
// each root-cause row by the evidence.
func RunPlaybook(ctx context.Context, p *Playbook, src Sources, timeout time.Duration) PlaybookReport {
	if src.Now == nil {
		src.Now = time.Now
	}
	if src.ProcessSample <= 0 {
		src.ProcessSample = 250 * time.Millisecond
	}
	ev := &Evidence{Results: map[string]Result{}, Errs: map[string]string{}, Matches: map[string]int{}, Services: map[string]ServiceState{}}
	checks := p.steps(&src, ev)
	results := Run(ctx, checks, timeout)
	ev.mu.Lock()
	for _, r := range results {
		if _, ok := ev.Errs[r.Check]; !ok && r.Status == Fail {
			ev.Errs[r.Check] = r.Value
		}
		ev.Results[r.Check] = r
	}
	rep := PlaybookReport{Playbook: p.Name, Title: p.Title, Runbook: p.Runbook, Window: ShortDuration(src.Since), Steps: results}
	for _, rw := range p.rows {
		v, why := rw.judge(&src, ev)
		cmds := slices.Clone(rw.commands)
		for i := range cmds {
			if src.APIURL != "" {
				cmds[i].Command = strings.ReplaceAll(cmds[i].Command, defaultAPIURL, src.APIURL)
			}
		}
		rep.Causes = append(rep.Causes, Cause{Row: rw.row, Cause: rw.cause, Solution: rw.solution, Verdict: v, Reason: why, Commands: cmds})
	}
	ev.mu.Unlock()

	seen := map[string]bool{}
	add := func(cs []Command) {
		for _, c := range cs {
			if src.APIURL != "" {
				c.Command = strings.ReplaceAll(c.Command, defaultAPIURL, src.APIURL)
			}
			if !seen[c.Command] {
				seen[c.Command] = true
				rep.Next = append(rep.Next, c)
			}
		}
	}
	rep.Status = NoRootCause
	for _, c := range rep.Causes {
		if c.Verdict == Supported {
			rep.Status = RootCauseFound
			add(c.Commands)
		}
	}
	add(p.general)
	allFailed := len(results) > 0 && !slices.ContainsFunc(results, func(r Result) bool { return r.Status != Fail })
	decided := slices.ContainsFunc(rep.Causes, func(c Cause) bool { return c.Verdict != Unknown })
	if allFailed && !decided {
		rep.Status = NothingReached
	}
	return rep
}

// SortedCauses returns the causes with the supported rows first, then the
// unknown, then the not supported, each in the runbook's order.
func SortedCauses(cs []Cause) []Cause {
	out := slices.Clone(cs)
	rank := map[string]int{Supported: 0, Unknown: 1, NotSupported: 2}
	sort.SliceStable(out, func(i, j int) bool { return rank[out[i].Verdict] < rank[out[j].Verdict] })
	return out
}

// step returns a check that stores its own evidence.
func step(name string, run func(ctx context.Context) Result) Check {
	return Check{Name: name, Run: run}
}

// ms formats milliseconds for people.
func ms(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.2fs", v/1000)
	case v >= 10:
		return fmt.Sprintf("%.0fms", v)
	}
	return fmt.Sprintf("%.1fms", v)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// ShortDuration prints 1h rather than 1h0m0s.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
