package ui

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/tars-ops/tarsctl/internal/iostreams"
)

// WriteJSON writes v as one indented JSON document and a newline. JSON
// output is a stable interface: fields are snake_case and only ever added.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// WriteJSONLine writes v as one compact JSON line, for streams (JSON Lines).
func WriteJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Status prints ✓/✗/! lines to stderr: the running commentary of a
// command, never its data.
type Status struct {
	w     io.Writer
	theme *Theme
	quiet bool
}

// NewStatus returns a status printer on ios.ErrOut. With quiet, only
// warnings and failures are printed.
func NewStatus(ios *iostreams.IOStreams, quiet bool) *Status {
	return &Status{w: ios.ErrOut, theme: NewErrTheme(ios), quiet: quiet}
}

// Success prints "✓ message".
func (s *Status) Success(format string, args ...any) {
	if !s.quiet {
		fmt.Fprintf(s.w, "%s %s\n", s.theme.Success.Render("✓"), fmt.Sprintf(format, args...))
	}
}

// Info prints "• message".
func (s *Status) Info(format string, args ...any) {
	if !s.quiet {
		fmt.Fprintf(s.w, "%s %s\n", s.theme.Muted.Render("•"), fmt.Sprintf(format, args...))
	}
}

// Warning prints "! message", even when quiet.
func (s *Status) Warning(format string, args ...any) {
	fmt.Fprintf(s.w, "%s %s\n", s.theme.Warning.Render("!"), fmt.Sprintf(format, args...))
}

// Failure prints "✗ message", even when quiet.
func (s *Status) Failure(format string, args ...any) {
	fmt.Fprintf(s.w, "%s %s\n", s.theme.Failure.Render("✗"), fmt.Sprintf(format, args...))
}
