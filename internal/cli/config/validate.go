package config

import (
	"errors"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	cfg "github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// ValidateOptions are the inputs of `tarsctl config validate`.
type ValidateOptions struct {
	IO *iostreams.IOStreams
	// Load loads the configuration with file as the config file ("" for
	// the usual lookup).
	Load   func(file string) (*cfg.Result, error)
	File   string
	Output string
	Quiet  bool
}

// NewCmdValidate returns `tarsctl config validate`.
func NewCmdValidate(f *cmdutil.Factory, runF func(*ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{IO: f.IOStreams}
	opts.Load = func(file string) (*cfg.Result, error) {
		if file == "" {
			file = f.Globals.ConfigFile
		}
		return cfg.Load(cfg.LoadOptions{
			Profile:    f.Globals.Profile,
			ConfigFile: file,
			Set:        f.Globals.Set,
			Getenv:     f.Getenv,
		})
	}
	cmd := &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Check a config file, or the effective configuration",
		Long: heredoc.Doc(`
			Check the configuration: FILE layered over the profile when FILE is
			given, otherwise the effective configuration (profile, config file,
			environment and --set).

			Every problem is reported at once, each naming its file, line and
			column (or environment variable or flag), the key, and what was
			expected: unknown keys, wrong types, values outside the allowed set,
			unset ${VAR} references, and settings that contradict each other.

			EXIT STATUS
			  0  the configuration is valid
			  2  it has problems (all are listed)
		`),
		Example: heredoc.Doc(`
			$ tarsctl config validate
			$ tarsctl config validate ./tars.yaml --profile production
			$ tarsctl config validate ./tars.yaml -o json | jq '.problems[].message'
		`),
		Args: cmdutil.MaximumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output, opts.Quiet = f.Globals.Output, f.Globals.Quiet
			if len(args) == 1 {
				opts.File = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return validateRun(opts)
		},
	}
	cmd.ValidArgsFunction = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
	}
	return cmd
}

type problemJSON struct {
	Source  string `json:"source"`
	Key     string `json:"key,omitempty"`
	Message string `json:"message"`
}

func validateRun(opts *ValidateOptions) error {
	res, err := opts.Load(opts.File)
	var verr *cfg.ValidationError
	if err != nil && !errors.As(err, &verr) {
		return err
	}
	if opts.Output == cmdutil.OutputJSON {
		problems := make([]problemJSON, 0, len(res.Problems))
		for _, p := range res.Problems {
			problems = append(problems, problemJSON{Source: p.Source, Key: p.Key, Message: p.Msg})
		}
		var file *string
		if res.ConfigFile != "" {
			file = &res.ConfigFile
		}
		if werr := ui.WriteJSON(opts.IO.Out, map[string]any{
			"valid":       err == nil,
			"profile":     res.Profile,
			"config_file": file,
			"problems":    problems,
		}); werr != nil {
			return werr
		}
	}
	if err != nil {
		return cmdutil.WithHint(cmdutil.WithExitCode(cmdutil.ExitUsage, err),
			"fix the problems above; `tarsctl config show` lists every key, and docs/configuration.md explains them")
	}
	if opts.Output != cmdutil.OutputJSON {
		where := "profile " + res.Profile
		if res.ConfigFile != "" {
			where += ", file " + res.ConfigFile
		}
		ui.NewStatus(opts.IO, opts.Quiet).Success("configuration is valid (%s)", where)
	}
	return nil
}
