package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with the configuration: where it came from, the
// key, and what was expected. It never holds a secret value.
type Problem struct {
	Source string // "FILE:LINE:COL", "env TARS_X", "flag --set", "profile NAME"
	Key    string // dotted key, or "" for a problem with the source itself
	Msg    string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Source != "" {
		b.WriteString(p.Source)
		b.WriteString(": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// ValidationError lists every problem found in the configuration. tarsctl
// reports them all at once, so a broken file is fixed in one pass.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		b.WriteString("invalid configuration: 1 problem")
	} else {
		fmt.Fprintf(&b, "invalid configuration: %d problems", len(e.Problems))
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}
