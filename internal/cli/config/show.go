package config

import (
	"fmt"
	"strings"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	cfg "github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// ShowOptions are the inputs of `tarsctl config show`.
type ShowOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*cfg.Result, error)
	Output string
}

// NewCmdShow returns `tarsctl config show`.
func NewCmdShow(f *cmdutil.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IOStreams, Config: f.ConfigResult}
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show the effective configuration and where each value comes from",
		Long: heredoc.Doc(`
			Show every configuration key with its effective value and its source:
			default, profile NAME, file PATH, env TARS_X, or flag.

			Secrets (passwords, the JWT secret) are never shown: a literal secret
			prints as [redacted]; a reference such as file:/run/secrets/x prints as
			it is, since it holds no secret.

			With -o yaml the output is the effective configuration as a config file;
			with -o json it is {"profile", "config_file", "config", "sources"}.
		`),
		Example: heredoc.Doc(`
			$ tarsctl config show
			$ tarsctl config show --profile production -o yaml
			$ TARS_API_PORT=4000 tarsctl config show -o json | jq .sources
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output = f.Globals.Output
			if runF != nil {
				return runF(opts)
			}
			return showRun(opts)
		},
	}
	cmdutil.SetOutputFormats(cmd, cmdutil.OutputText, cmdutil.OutputJSON, cmdutil.OutputYAML)
	return cmd
}

func showRun(opts *ShowOptions) error {
	res, err := opts.Config()
	if res == nil || res.Config == nil {
		return err
	}
	switch opts.Output {
	case cmdutil.OutputJSON:
		var file *string
		if res.ConfigFile != "" {
			file = &res.ConfigFile
		}
		if werr := ui.WriteJSON(opts.IO.Out, map[string]any{
			"profile":     res.Profile,
			"config_file": file,
			"config":      res.Config.RedactedMap(),
			"sources":     res.Sources,
		}); werr != nil {
			return werr
		}
	case cmdutil.OutputYAML:
		enc := yaml.NewEncoder(opts.IO.Out)
		enc.SetIndent(2)
		if werr := enc.Encode(res.Config.RedactedMap()); werr != nil {
			return werr
		}
		if werr := enc.Close(); werr != nil {
			return werr
		}
	default:
		if opts.IO.IsStdoutTTY() {
			file := res.ConfigFile
			if file == "" {
				file = "none"
			}
			fmt.Fprintf(opts.IO.ErrOut, "Profile: %s   Config file: %s\n\n", res.Profile, file)
		}
		t := ui.NewTable(opts.IO, "key", "value", "source")
		for _, f := range cfg.Fields() {
			t.AddRow(f.Key, textValue(res.Config.Value(f)), res.Sources[f.Key])
		}
		if werr := t.Render(); werr != nil {
			return werr
		}
	}
	// The configuration was shown; its problems still make the command fail,
	// so a script never mistakes an invalid configuration for a good one.
	return err
}

func textValue(v any) string {
	switch v := cfg.DisplayValue(v).(type) {
	case []string:
		return strings.Join(v, ",")
	default:
		return fmt.Sprint(v)
	}
}
