// Package lifecycle implements the local lifecycle commands: start, stop,
// restart, status, logs and health.
package lifecycle

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/daemons"
)

// selectServices resolves SERVICE... or --all; an empty selection with
// allowEmpty means every service.
func selectServices(args []string, all, allowEmpty bool) ([]string, error) {
	known := daemons.Names()
	switch {
	case all && len(args) > 0:
		return nil, cmdutil.FlagErrorf("give services or --all, not both")
	case all || (allowEmpty && len(args) == 0):
		return known, nil
	case len(args) == 0:
		return nil, cmdutil.FlagErrorf("name the services (%s) or use --all", strings.Join(known, ", "))
	}
	var out []string
	for _, a := range args {
		if !slices.Contains(known, a) {
			return nil, cmdutil.FlagErrorf("unknown service %q: expected %s", a, strings.Join(known, ", "))
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	// Dependency order, whatever order they were named in.
	slices.SortFunc(out, func(a, b string) int { return slices.Index(known, a) - slices.Index(known, b) })
	return out, nil
}

func completeServices(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, s := range daemons.Names() {
		if !slices.Contains(args, s) {
			out = append(out, s)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
