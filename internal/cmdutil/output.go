package cmdutil

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// Output formats.
const (
	OutputText = "text"
	OutputJSON = "json"
	OutputYAML = "yaml"
)

// DefaultOutputFormats are what --output accepts unless a command says
// otherwise with [SetOutputFormats].
var DefaultOutputFormats = []string{OutputText, OutputJSON}

const outputFormatsAnnotation = "tarsctl/output-formats"

// SetOutputFormats declares which --output values cmd accepts.
func SetOutputFormats(cmd *cobra.Command, formats ...string) {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[outputFormatsAnnotation] = strings.Join(formats, ",")
}

// OutputFormats returns the --output values cmd accepts.
func OutputFormats(cmd *cobra.Command) []string {
	if v, ok := cmd.Annotations[outputFormatsAnnotation]; ok {
		return strings.Split(v, ",")
	}
	return DefaultOutputFormats
}

// CheckOutputFormat returns a usage error when format is not one cmd accepts.
func CheckOutputFormat(cmd *cobra.Command, format string) error {
	allowed := OutputFormats(cmd)
	if slices.Contains(allowed, format) {
		return nil
	}
	return FlagErrorf("invalid value %q for --output: %q accepts %s", format, cmd.CommandPath(), strings.Join(allowed, ", "))
}

// EnumFlag registers completion for a string flag that takes one of values
// and records them so [CheckEnumFlags] can validate what the user typed.
func EnumFlag(cmd *cobra.Command, name string, values ...string) {
	_ = cmd.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations["tarsctl/enum/"+name] = strings.Join(values, ",")
}

// CheckEnumFlags validates every flag registered with [EnumFlag] on cmd
// that the user set.
func CheckEnumFlags(cmd *cobra.Command) error {
	for k, v := range cmd.Annotations {
		name, ok := strings.CutPrefix(k, "tarsctl/enum/")
		if !ok {
			continue
		}
		fl := cmd.Flags().Lookup(name)
		if fl == nil || !fl.Changed {
			continue
		}
		allowed := strings.Split(v, ",")
		if !slices.Contains(allowed, fl.Value.String()) {
			return FlagErrorf("invalid value %q for --%s: expected one of %s", fl.Value.String(), name, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// NoArgs is cobra.NoArgs returning a usage error that names the command.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return FlagErrorf("%q takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// ExactArgs is cobra.ExactArgs returning a usage error that names what is
// missing.
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return FlagErrorf("%q needs %s", cmd.CommandPath(), what)
		}
		if len(args) > n {
			return FlagErrorf("%q takes %d argument(s), got %d: unexpected %q", cmd.CommandPath(), n, len(args), args[n])
		}
		return nil
	}
}

// MaximumArgs is cobra.MaximumNArgs returning a usage error.
func MaximumArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return FlagErrorf("%q takes at most %d argument(s), got %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}
