package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// A Reporter writes a [Report] in one format.
type Reporter interface {
	Report(w io.Writer, r *Report) error
}

// JSONReporter writes the report as one indented JSON document: the
// stable format that baselines and `loadtest compare` read back.
type JSONReporter struct{}

// MarkdownReporter writes the report as Markdown tables, to paste into an
// incident or a pull request.
type MarkdownReporter struct {
	// Title heads the report; the default is "Load test report".
	Title string
}

// TextReporter writes a plain-text summary for a terminal or a CI log.
type TextReporter struct{}

var (
	_ Reporter = JSONReporter{}
	_ Reporter = MarkdownReporter{}
	_ Reporter = TextReporter{}
)

// Report implements [Reporter].
func (JSONReporter) Report(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// modeLine describes how the run was paced: "open loop, 200 req/s, 100
// connections".
func modeLine(r *Report) string {
	c := &r.Config
	if c.Mode == ModeOpen {
		return fmt.Sprintf("open loop, %s target, %d connections", FormatRate(c.Rate), c.Concurrency)
	}
	s := fmt.Sprintf("closed loop, %d users", c.Concurrency)
	if c.SpawnRate > 0 {
		s += fmt.Sprintf(", spawn rate %g/s", c.SpawnRate)
	}
	if c.ThinkTimeMS > 0 {
		s += ", think time " + FormatMS(c.ThinkTimeMS)
	}
	return s
}

func boundLine(c *Config) string {
	var parts []string
	if c.DurationSeconds > 0 {
		parts = append(parts, (time.Duration(c.DurationSeconds * float64(time.Second))).String())
	}
	if c.MaxRequests > 0 {
		parts = append(parts, fmt.Sprintf("%d requests", c.MaxRequests))
	}
	return strings.Join(parts, " or ")
}

func requestsLine(s *RequestStats) string {
	return fmt.Sprintf("%d (%s), %d failed (%s)", s.Requests, FormatRate(s.Throughput), s.Failed, FormatPercent(s.ErrorRate))
}

func latencyCells(l *LatencySummary) []string {
	return []string{FormatMS(l.Min), FormatMS(l.Mean), FormatMS(l.P50), FormatMS(l.P90), FormatMS(l.P95), FormatMS(l.P99), FormatMS(l.P999), FormatMS(l.Max)}
}

var latencyHeader = []string{"min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// mdCell escapes a table cell: a pipe would end it, a newline the row.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, `|`, `\|`)
	s = strings.ReplaceAll(s, "\r", " ")
	return strings.ReplaceAll(s, "\n", " ")
}

// Report implements [Reporter].
func (m MarkdownReporter) Report(w io.Writer, r *Report) error {
	var b strings.Builder
	title := m.Title
	if title == "" {
		title = "Load test report"
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", k, mdCell(v))
		}
	}
	row("Target", r.Config.URL)
	row("Scenario", r.Config.Scenario)
	row("Mode", modeLine(r))
	row("Bound", boundLine(&r.Config))
	row("Started", r.StartedAt.UTC().Format(time.RFC3339))
	dur := fmtSeconds(r.DurationSeconds)
	if r.Interrupted {
		dur += " (interrupted)"
	}
	row("Duration", dur)
	row("Requests", requestsLine(&r.Summary))
	row("Client", r.Config.Client)
	row("Tool", r.Tool)

	table := func(heading string, pick func(*RequestStats) *LatencySummary) {
		fmt.Fprintf(&b, "\n## %s\n\n", heading)
		b.WriteString("| Request | Requests | req/s | Error rate |")
		for _, h := range latencyHeader {
			fmt.Fprintf(&b, " %s |", h)
		}
		b.WriteString("\n|---|---:|---:|---:|")
		b.WriteString(strings.Repeat("---:|", len(latencyHeader)))
		b.WriteString("\n")
		line := func(name string, s *RequestStats) {
			fmt.Fprintf(&b, "| %s | %d | %s | %s |", name, s.Requests, fmtNumber(s.Throughput), FormatPercent(s.ErrorRate))
			for _, c := range latencyCells(pick(s)) {
				fmt.Fprintf(&b, " %s |", c)
			}
			b.WriteString("\n")
		}
		line("**all**", &r.Summary)
		for i := range r.ByRequest {
			line(mdCell(r.ByRequest[i].Name), &r.ByRequest[i])
		}
	}
	if r.Config.Mode == ModeOpen {
		table("Latency (from intended send time)", func(s *RequestStats) *LatencySummary { return &s.Latency })
		if r.Summary.ServiceTime != nil {
			table("Service time (from actual send)", func(s *RequestStats) *LatencySummary {
				if s.ServiceTime == nil {
					return &LatencySummary{}
				}
				return s.ServiceTime
			})
		}
	} else {
		table("Latency", func(s *RequestStats) *LatencySummary { return &s.Latency })
	}

	if len(r.Summary.StatusCodes) > 0 {
		b.WriteString("\n## Status codes\n\n| Code | Count |\n|---|---:|\n")
		for _, k := range sortedKeys(r.Summary.StatusCodes) {
			fmt.Fprintf(&b, "| %s | %d |\n", k, r.Summary.StatusCodes[k])
		}
	}
	if len(r.Summary.Errors) > 0 {
		b.WriteString("\n## Errors\n\n| Kind | Count | First message |\n|---|---:|---|\n")
		for _, k := range sortedKeys(r.Summary.Errors) {
			fmt.Fprintf(&b, "| %s | %d | %s |\n", k, r.Summary.Errors[k], mdCell(r.Summary.ErrorSamples[k]))
		}
	}

	g := &r.Generator
	b.WriteString("\n## Load generator\n\n| | |\n|---|---|\n")
	send := FormatRate(g.SendRate)
	if g.TargetRate > 0 {
		send += " (target " + FormatRate(g.TargetRate) + ")"
	}
	row("Send rate", send)
	if g.SendLag != nil {
		row("Send lag", fmt.Sprintf("p50 %s, p99 %s, max %s", FormatMS(g.SendLag.P50), FormatMS(g.SendLag.P99), FormatMS(g.SendLag.Max)))
	}
	row("CPU", cpuLine(g))

	if len(r.Warnings) > 0 {
		b.WriteString("\n## Warnings\n\n")
		for _, w := range r.Warnings {
			fmt.Fprintf(&b, "- %s\n", w)
		}
	}
	if len(r.Thresholds) > 0 {
		b.WriteString("\n## Thresholds\n\n")
		for _, t := range r.Thresholds {
			fmt.Fprintf(&b, "- %s %s\n", Mark(t.OK), t.Line())
		}
	}
	if bl := r.Baseline; bl != nil {
		b.WriteString("\n## Baseline\n\n")
		if bl.File != "" {
			fmt.Fprintf(&b, "Compared with `%s`, tolerance %s:\n\n", bl.File, FormatTolerance(bl.Tolerance))
		} else {
			fmt.Fprintf(&b, "Tolerance %s:\n\n", FormatTolerance(bl.Tolerance))
		}
		for _, c := range bl.Checks {
			fmt.Fprintf(&b, "- %s %s\n", Mark(!c.Regression), c.Line())
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func cpuLine(g *Generator) string {
	if g.CPUNotMeasured {
		return "not measured on this platform"
	}
	return fmt.Sprintf("%ss (%.0f%% of %d CPUs), %sµs per request",
		trimZeros(fmt.Sprintf("%.2f", g.CPUSeconds)), g.CPUUtilization*100, g.GOMAXPROCS, sig3(g.CPUPerRequestUS))
}

// Report implements [Reporter]. Warnings and verdicts are left to the
// caller, which prints them where they belong (stderr, coloured marks).
func (TextReporter) Report(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	target := r.Config.URL
	if r.Config.Scenario != "" {
		target += " (scenario " + r.Config.Scenario + ")"
	}
	line("Target", strings.TrimSpace(target))
	line("Mode", modeLine(r))
	dur := fmtSeconds(r.DurationSeconds)
	if r.Interrupted {
		dur += " (interrupted)"
	}
	line("Duration", dur)
	line("Requests", requestsLine(&r.Summary))
	lat := func(l *LatencySummary) string {
		cells := latencyCells(l)
		parts := make([]string, len(cells))
		for i, c := range cells {
			parts[i] = latencyHeader[i] + " " + c
		}
		return strings.Join(parts, "  ")
	}
	line("Latency", lat(&r.Summary.Latency))
	if r.Summary.ServiceTime != nil {
		line("Service time", lat(r.Summary.ServiceTime))
	}
	counts := func(m map[string]int64) string {
		var parts []string
		for _, k := range sortedKeys(m) {
			parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
		}
		return strings.Join(parts, "  ")
	}
	line("Status codes", counts(r.Summary.StatusCodes))
	line("Errors", counts(r.Summary.Errors))
	g := &r.Generator
	gen := "send rate " + FormatRate(g.SendRate)
	if g.TargetRate > 0 {
		gen += " (target " + FormatRate(g.TargetRate) + ")"
	}
	gen += ", CPU " + cpuLine(g)
	line("Generator", gen)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.ByRequest) > 1 {
		if _, err := io.WriteString(w, "\n"); err != nil {
			return err
		}
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		// No trailing tab: the last column is not padded.
		header := []string{"REQUEST", "REQUESTS", "REQ/S", "ERROR RATE"}
		for _, h := range latencyHeader[2:] {
			header = append(header, strings.ToUpper(h))
		}
		fmt.Fprintln(tw, strings.Join(header, "\t"))
		for i := range r.ByRequest {
			s := &r.ByRequest[i]
			cells := append([]string{s.Name, fmt.Sprint(s.Requests), fmtNumber(s.Throughput), FormatPercent(s.ErrorRate)},
				latencyCells(&s.Latency)[2:]...)
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		return tw.Flush()
	}
	return nil
}
