package ui

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/progress"
)

// NewProgress returns the progress printer a command should hand to domain
// code: JSON "status" lines on stdout in JSON mode, a live line on a
// terminal's stderr, and nothing otherwise or when quiet.
func NewProgress(ios *iostreams.IOStreams, jsonMode, quiet bool) progress.Reporter {
	switch {
	case jsonMode:
		return &jsonProgress{w: ios.Out}
	case quiet || !ios.ProgressEnabled():
		return progress.Discard
	default:
		return &textProgress{w: ios.ErrOut, theme: NewErrTheme(ios), now: time.Now, every: 100 * time.Millisecond}
	}
}

var (
	_ progress.Reporter = (*jsonProgress)(nil)
	_ progress.Reporter = (*textProgress)(nil)
)

// jsonProgress writes each event as a {"type":"status",...} JSON line.
type jsonProgress struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *jsonProgress) Report(e progress.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = WriteJSONLine(p.w, struct {
		Type string `json:"type"`
		progress.Event
	}{"status", e})
}

func (p *jsonProgress) Done() {}

// textProgress redraws one line on stderr, at most every `every`, and
// keeps a finished phase's last line when the phase changes.
type textProgress struct {
	mu      sync.Mutex
	w       io.Writer
	theme   *Theme
	now     func() time.Time
	every   time.Duration
	last    time.Time
	pending *progress.Event
	phase   string
	drawn   int // width of the line on screen
}

func (p *textProgress) Report(e progress.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.phase != "" && e.Phase != p.phase {
		p.flushLocked()
		fmt.Fprintln(p.w)
		p.drawn = 0
	}
	p.phase = e.Phase
	p.pending = &e
	if now := p.now(); now.Sub(p.last) >= p.every {
		p.last = now
		p.flushLocked()
	}
}

func (p *textProgress) flushLocked() {
	if p.pending == nil {
		return
	}
	line := formatEvent(*p.pending)
	pad := max(0, p.drawn-len(line))
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
	p.drawn = len(line)
	p.pending = nil
}

func (p *textProgress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flushLocked()
	if p.drawn > 0 {
		fmt.Fprintln(p.w)
	}
	p.drawn = 0
}

func formatEvent(e progress.Event) string {
	var b strings.Builder
	b.WriteString(e.Phase)
	switch {
	case e.Total > 0:
		fmt.Fprintf(&b, " %s/%s", quantity(e.Done, e.Unit), quantity(e.Total, e.Unit))
		fmt.Fprintf(&b, " (%d%%)", e.Done*100/e.Total)
	case e.Done > 0:
		fmt.Fprintf(&b, " %s", quantity(e.Done, e.Unit))
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

func quantity(n int64, unit string) string {
	if unit == "bytes" {
		return HumanBytes(n)
	}
	if unit == "" {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%d %s", n, unit)
}

// HumanBytes formats a byte count with binary units: 1.5 MiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
