// Package ui renders tarsctl's human output onto [iostreams.IOStreams]:
// a lipgloss theme, tables, JSON, ✓/✗ status lines and progress printers.
// It holds no business logic.
//
// # Colour
//
// Each [Theme] has its own lipgloss renderer bound to one stream, with the
// colour profile iostreams decided (off without a terminal, with NO_COLOR or
// --no-color). Package-level lipgloss styles are never used: they detect
// the terminal on their own, at init.
package ui

import (
	"io"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/tars-ops/tarsctl/internal/iostreams"
)

// Theme is the set of styles for one output stream.
type Theme struct {
	r       *lipgloss.Renderer
	Bold    lipgloss.Style
	Header  lipgloss.Style
	Muted   lipgloss.Style
	Success lipgloss.Style
	Warning lipgloss.Style
	Failure lipgloss.Style
	Accent  lipgloss.Style
}

// NewTheme returns the styles for stdout.
func NewTheme(ios *iostreams.IOStreams) *Theme { return newTheme(ios.Out, ios.ColorDepth()) }

// NewErrTheme returns the styles for stderr.
func NewErrTheme(ios *iostreams.IOStreams) *Theme { return newTheme(ios.ErrOut, ios.ErrColorDepth()) }

func newTheme(w io.Writer, depth iostreams.ColorDepth) *Theme {
	r := lipgloss.NewRenderer(w)
	r.SetColorProfile(profileFor(depth))
	// Say the background is dark instead of letting lipgloss ask the
	// terminal, which costs a round trip and can hang on some terminals.
	r.SetHasDarkBackground(true)
	return &Theme{
		r:       r,
		Bold:    r.NewStyle().Bold(true),
		Header:  r.NewStyle().Bold(true),
		Muted:   r.NewStyle().Foreground(lipgloss.Color("8")),
		Success: r.NewStyle().Foreground(lipgloss.Color("2")),
		Warning: r.NewStyle().Foreground(lipgloss.Color("3")),
		Failure: r.NewStyle().Foreground(lipgloss.Color("1")),
		Accent:  r.NewStyle().Foreground(lipgloss.Color("6")),
	}
}

func profileFor(d iostreams.ColorDepth) termenv.Profile {
	switch d {
	case iostreams.ColorTrue:
		return termenv.TrueColor
	case iostreams.Color256:
		return termenv.ANSI256
	case iostreams.Color16:
		return termenv.ANSI
	default:
		return termenv.Ascii
	}
}
