// Package iostreams bundles stdin, stdout and stderr with what tarsctl knows
// about them: which are terminals, whether colour is wanted, and how wide the
// terminal is.
//
// # Streams
//
// Out carries data (what a pipe or `jq` consumes); ErrOut carries everything
// else: progress, status lines, warnings, prompts and errors. Code that
// writes a result writes to Out, and nothing else ever does.
//
// # Environment
//
// NO_COLOR (any value) turns colour off; CLICOLOR_FORCE (any value but "0")
// turns it on even without a terminal; TARS_FORCE_TTY makes stdout count as a
// terminal (its value, when a number of 20 or more, is the width to use).
package iostreams

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"
)

// ColorDepth is how many colours the output supports.
type ColorDepth int

// Colour depths, from none to 24-bit.
const (
	ColorNone ColorDepth = iota
	Color16
	Color256
	ColorTrue
)

// IOStreams is the process's standard streams and their capabilities.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY, stderrTTY bool
	colorDepth, errColorDepth      ColorDepth
	width                          int
	neverPrompt                    bool

	// fds are kept to ask the terminal for its size lazily.
	outFd    int
	outFdSet bool
}

// System returns streams bound to the process's stdin, stdout and stderr,
// with capabilities detected from the file descriptors and getenv.
func System(getenv func(string) string) *IOStreams {
	ios := &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    os.Stderr,
		stdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		stdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		stderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		outFd:     int(os.Stdout.Fd()),
		outFdSet:  true,
	}
	if v := getenv("TARS_FORCE_TTY"); v != "" && v != "0" && v != "false" {
		ios.stdoutTTY = true
		// A number of columns sets the width; "1" or "true" only force.
		if w, err := strconv.Atoi(v); err == nil && w >= 20 {
			ios.width = w
		}
	}
	ios.colorDepth = detectColor(ios.stdoutTTY, getenv)
	ios.errColorDepth = detectColor(ios.stderrTTY, getenv)
	return ios
}

// detectColor decides the colour depth from the environment, following the
// NO_COLOR and CLICOLOR_FORCE conventions.
func detectColor(tty bool, getenv func(string) string) ColorDepth {
	if getenv("NO_COLOR") != "" {
		return ColorNone
	}
	forced := getenv("CLICOLOR_FORCE") != "" && getenv("CLICOLOR_FORCE") != "0"
	if !tty && !forced {
		return ColorNone
	}
	termName := getenv("TERM")
	if termName == "dumb" && !forced {
		return ColorNone
	}
	switch ct := strings.ToLower(getenv("COLORTERM")); {
	case ct == "truecolor" || ct == "24bit":
		return ColorTrue
	case strings.Contains(termName, "256color"):
		return Color256
	default:
		return Color16
	}
}

// Test returns streams backed by buffers, for tests: no terminal, no colour.
// Use the Set* methods to pretend otherwise.
func Test() (ios *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	ios = &IOStreams{In: in, Out: out, ErrOut: errOut, width: 80}
	return ios, in, out, errOut
}

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether stderr is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// SetStdinTTY overrides terminal detection for stdin (tests).
func (s *IOStreams) SetStdinTTY(v bool) { s.stdinTTY = v }

// SetStdoutTTY overrides terminal detection for stdout (tests).
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }

// SetStderrTTY overrides terminal detection for stderr (tests).
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = v }

// ColorEnabled reports whether stdout output may use colour.
func (s *IOStreams) ColorEnabled() bool { return s.colorDepth != ColorNone }

// ColorDepth reports how many colours stdout output may use.
func (s *IOStreams) ColorDepth() ColorDepth { return s.colorDepth }

// ErrColorDepth reports how many colours stderr output may use.
func (s *IOStreams) ErrColorDepth() ColorDepth { return s.errColorDepth }

// SetColorDepth overrides colour detection for both stdout and stderr;
// --no-color sets [ColorNone].
func (s *IOStreams) SetColorDepth(d ColorDepth) { s.colorDepth, s.errColorDepth = d, d }

// CanPrompt reports whether tarsctl may ask the user a question: the
// question goes to stderr and the answer comes from stdin, so both are
// terminals, and prompting was not turned off. stdout may be a pipe.
func (s *IOStreams) CanPrompt() bool {
	return s.stdinTTY && s.stderrTTY && !s.neverPrompt
}

// SetNeverPrompt turns prompting off (for --yes style flags and CI).
func (s *IOStreams) SetNeverPrompt(v bool) { s.neverPrompt = v }

// ProgressEnabled reports whether live progress may be drawn on stderr.
func (s *IOStreams) ProgressEnabled() bool { return s.stderrTTY }

// TerminalWidth returns the width of the terminal on stdout, or 80.
func (s *IOStreams) TerminalWidth() int {
	if s.width > 0 {
		return s.width
	}
	if s.outFdSet && s.stdoutTTY {
		if w, _, err := term.GetSize(s.outFd); err == nil && w > 0 {
			s.width = w
			return w
		}
	}
	return 80
}

// SetTerminalWidth overrides the detected width (tests).
func (s *IOStreams) SetTerminalWidth(w int) { s.width = w }

// ReadPassword prompts on stderr and reads a line from the terminal on
// stdin without echoing it. It fails when stdin is not a terminal: use a
// --password-stdin style flag there.
func (s *IOStreams) ReadPassword(prompt string) (string, error) {
	f, ok := s.In.(*os.File)
	if !ok || !s.stdinTTY {
		return "", errors.New("cannot prompt for a password: stdin is not a terminal")
	}
	fmt.Fprint(s.ErrOut, prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(s.ErrOut)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}
