// Package lifecycle implements the local lifecycle commands: start, stop,
// restart, status, logs and health.
package lifecycle

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/services"
)

// selectServices resolves SERVICE... (names or aliases from the service
// catalog) or --all; an empty selection with allowEmpty means every
// service. The result holds catalog names, in dependency order.
func selectServices(args []string, all, allowEmpty bool) ([]string, error) {
	known := services.Names()
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
		e, err := services.Resolve(a)
		if err != nil {
			return nil, cmdutil.FlagErrorf("%v", err)
		}
		if !slices.Contains(out, e.Name) {
			out = append(out, e.Name)
		}
	}
	// Dependency order, whatever order they were named in.
	slices.SortFunc(out, func(a, b string) int { return slices.Index(known, a) - slices.Index(known, b) })
	return out, nil
}

func completeServices(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, s := range services.Names() {
		if !slices.Contains(args, s) {
			out = append(out, s)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
