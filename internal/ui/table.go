package ui

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"

	"github.com/tars-ops/tarsctl/internal/iostreams"
)

// Table prints rows for people on a terminal and for scripts otherwise,
// from the same calls. On a terminal: an upper-case header, aligned columns
// fitted to the width, fuzzy times. Otherwise: no header, tab-separated
// fields, RFC 3339 times — stable for cut, awk and sort.
type Table struct {
	out    io.Writer
	tty    bool
	width  int
	theme  *Theme
	header []string
	rows   [][]string
	now    func() time.Time
}

// NewTable starts a table with the given column names.
func NewTable(ios *iostreams.IOStreams, columns ...string) *Table {
	return &Table{
		out:    ios.Out,
		tty:    ios.IsStdoutTTY(),
		width:  ios.TerminalWidth(),
		theme:  NewTheme(ios),
		header: columns,
		now:    time.Now,
	}
}

// SetNow fixes the clock used for fuzzy times (tests).
func (t *Table) SetNow(now func() time.Time) { t.now = now }

// AddRow adds one row; missing cells are empty.
func (t *Table) AddRow(cells ...string) {
	row := make([]string, len(t.header))
	copy(row, cells)
	t.rows = append(t.rows, row)
}

// Time formats a timestamp for a cell: fuzzy on a terminal, RFC 3339
// otherwise; the zero time is empty.
func (t *Table) Time(ts time.Time) string {
	if ts.IsZero() {
		return ""
	}
	if !t.tty {
		return ts.UTC().Format(time.RFC3339)
	}
	return FuzzyAgo(t.now().Sub(ts))
}

// Render writes the table.
func (t *Table) Render() error {
	if !t.tty {
		var b strings.Builder
		for _, row := range t.rows {
			for i, c := range row {
				if i > 0 {
					b.WriteByte('\t')
				}
				b.WriteString(strings.ReplaceAll(c, "\t", " "))
			}
			b.WriteByte('\n')
		}
		_, err := io.WriteString(t.out, b.String())
		return err
	}
	widths := t.fit()
	var b strings.Builder
	line := func(cells []string, style *lipgloss.Style) {
		for i, c := range cells {
			c = truncate(c, widths[i])
			pad := widths[i] - lipgloss.Width(c)
			if style != nil {
				c = style.Render(c)
			}
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", pad+2))
			}
		}
		b.WriteByte('\n')
	}
	upper := make([]string, len(t.header))
	for i, h := range t.header {
		upper[i] = strings.ToUpper(h)
	}
	line(upper, &t.theme.Header)
	for _, row := range t.rows {
		line(row, nil)
	}
	_, err := io.WriteString(t.out, b.String())
	return err
}

// fit returns column widths that fit the terminal, shrinking the last
// column first and then the widest.
func (t *Table) fit() []int {
	n := len(t.header)
	widths := make([]int, n)
	for i, h := range t.header {
		widths[i] = lipgloss.Width(h)
	}
	for _, row := range t.rows {
		for i, c := range row {
			widths[i] = max(widths[i], lipgloss.Width(c))
		}
	}
	total := func() int {
		s := 2 * (n - 1)
		for _, w := range widths {
			s += w
		}
		return s
	}
	// The last column is usually free text; give it up first.
	last := n - 1
	for total() > t.width && widths[last] > 8 {
		widths[last]--
	}
	for total() > t.width {
		widest := 0
		for i, w := range widths {
			if w > widths[widest] {
				widest = i
			}
		}
		if widths[widest] <= 8 {
			break // too narrow to help; let the terminal wrap
		}
		widths[widest]--
	}
	return widths
}

func truncate(s string, w int) string {
	if lipgloss.Width(s) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && lipgloss.Width(string(r))+1 > w {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// FuzzyAgo describes a duration in the past the way people say it.
func FuzzyAgo(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute ago"
	case d < 2*time.Minute:
		return "about 1 minute ago"
	case d < time.Hour:
		return fmt.Sprintf("about %d minutes ago", int(d.Minutes()))
	case d < 2*time.Hour:
		return "about 1 hour ago"
	case d < 24*time.Hour:
		return fmt.Sprintf("about %d hours ago", int(d.Hours()))
	case d < 48*time.Hour:
		return "about 1 day ago"
	default:
		return fmt.Sprintf("about %d days ago", int(d.Hours()/24))
	}
}
