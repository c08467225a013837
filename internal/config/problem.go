package config

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
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

// sortProblems orders problems by source and then by position in the
// source, so a file's problems read top to bottom; problems without a
// source (a required key that nothing set) come last.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		fa, la, ca := splitPos(a.Source)
		fb, lb, cb := splitPos(b.Source)
		if (fa == "") != (fb == "") {
			if fa == "" {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(fa, fb), cmp.Compare(la, lb), cmp.Compare(ca, cb))
	})
}

// splitPos splits "file:line:col" into its parts; other sources have no
// position.
func splitPos(src string) (string, int, int) {
	i := strings.LastIndexByte(src, ':')
	if i < 0 {
		return src, 0, 0
	}
	col, err := strconv.Atoi(src[i+1:])
	if err != nil {
		return src, 0, 0
	}
	j := strings.LastIndexByte(src[:i], ':')
	if j < 0 {
		return src, 0, 0
	}
	line, err := strconv.Atoi(src[j+1 : i])
	if err != nil {
		return src, 0, 0
	}
	return src[:j], line, col
}
