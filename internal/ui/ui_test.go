package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/progress"
)

func TestTableNonTTY(t *testing.T) {
	t.Parallel()
	ios, _, out, _ := iostreams.Test()
	tb := NewTable(ios, "service", "state", "started")
	ts := time.Date(2026, 11, 28, 1, 2, 3, 0, time.UTC)
	tb.AddRow("dashboard-api", "running", tb.Time(ts))
	tb.AddRow("hypersync", "stopped\tx")
	if err := tb.Render(); err != nil {
		t.Fatal(err)
	}
	want := "dashboard-api\trunning\t2026-11-28T01:02:03Z\nhypersync\tstopped x\t\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestTableTTY(t *testing.T) {
	t.Parallel()
	ios, _, out, _ := iostreams.Test()
	ios.SetStdoutTTY(true)
	ios.SetTerminalWidth(50)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	tb := NewTable(ios, "service", "uptime", "note")
	tb.SetNow(func() time.Time { return now })
	tb.AddRow("dashboard-api", tb.Time(now.Add(-3*time.Hour)), "a very long note that cannot fit in fifty columns")
	if err := tb.Render(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines: %q", len(lines), out.String())
	}
	if !strings.HasPrefix(lines[0], "SERVICE") || !strings.Contains(lines[0], "UPTIME") {
		t.Errorf("header = %q, want upper-case column names", lines[0])
	}
	if !strings.Contains(lines[1], "about 3 hours ago") {
		t.Errorf("row = %q, want a fuzzy time", lines[1])
	}
	for _, l := range lines {
		if w := len([]rune(l)); w > 50 {
			t.Errorf("line %q is %d wide, want at most 50", l, w)
		}
	}
	if !strings.HasSuffix(lines[1], "…") {
		t.Errorf("row = %q, want the long cell truncated with …", lines[1])
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Error("colour escape codes without colour enabled")
	}
}

func TestThemeForcedColor(t *testing.T) {
	t.Parallel()
	ios, _, _, _ := iostreams.Test()
	ios.SetColorDepth(iostreams.Color16)
	s := NewTheme(ios).Success.Render("ok")
	if !strings.Contains(s, "\x1b[") {
		t.Errorf("forced colour rendered %q, want ANSI escapes", s)
	}
	ios.SetColorDepth(iostreams.ColorNone)
	if s := NewTheme(ios).Success.Render("ok"); s != "ok" {
		t.Errorf("colour off rendered %q, want plain text", s)
	}
}

func TestStatusQuiet(t *testing.T) {
	t.Parallel()
	ios, _, out, errOut := iostreams.Test()
	st := NewStatus(ios, true)
	st.Success("done")
	st.Info("note")
	st.Warning("careful")
	st.Failure("broken")
	if out.Len() != 0 {
		t.Errorf("status wrote to stdout: %q", out.String())
	}
	if want := "! careful\n✗ broken\n"; errOut.String() != want {
		t.Errorf("stderr = %q, want %q", errOut.String(), want)
	}
}

func TestProgressJSON(t *testing.T) {
	t.Parallel()
	ios, _, out, errOut := iostreams.Test()
	p := NewProgress(ios, true, false)
	p.Report(progress.Event{Phase: "dump postgres", Done: 10, Total: 20, Unit: "bytes"})
	p.Done()
	want := `{"type":"status","phase":"dump postgres","done":10,"total":20,"unit":"bytes"}` + "\n"
	if out.String() != want || errOut.Len() != 0 {
		t.Errorf("stdout %q stderr %q, want %q on stdout only", out.String(), errOut.String(), want)
	}
}

func TestProgressTextOnlyOnTTY(t *testing.T) {
	t.Parallel()
	ios, _, out, errOut := iostreams.Test()
	p := NewProgress(ios, false, false)
	p.Report(progress.Event{Phase: "copy", Done: 1})
	p.Done()
	if out.Len()+errOut.Len() != 0 {
		t.Errorf("progress without a terminal wrote %q %q", out.String(), errOut.String())
	}

	ios.SetStderrTTY(true)
	now := time.Unix(0, 0)
	tp := NewProgress(ios, false, false).(*textProgress)
	tp.now = func() time.Time { return now }
	tp.Report(progress.Event{Phase: "copy", Done: 1536, Total: 3072, Unit: "bytes"})
	tp.Report(progress.Event{Phase: "copy", Done: 2048, Total: 3072, Unit: "bytes"}) // throttled
	tp.Report(progress.Event{Phase: "verify", Message: "sha256"})
	tp.Done()
	want := "\rcopy 1.5 KiB/3.0 KiB (50%)\rcopy 2.0 KiB/3.0 KiB (66%)\n\rverify: sha256\n"
	if errOut.String() != want {
		t.Errorf("stderr = %q, want %q", errOut.String(), want)
	}
	if out.Len() != 0 {
		t.Errorf("text progress wrote to stdout: %q", out.String())
	}
}

func TestHumanBytes(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1 << 20: "1.0 MiB", 5 << 30: "5.0 GiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
