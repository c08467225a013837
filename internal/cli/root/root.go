// Package root builds tarsctl's command tree: the root command, its global
// flags, the command groups and the help topics.
package root

import (
	"fmt"
	"strings"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/build"
	agentscmd "github.com/tars-ops/tarsctl/internal/cli/agents"
	backupcmd "github.com/tars-ops/tarsctl/internal/cli/backup"
	"github.com/tars-ops/tarsctl/internal/cli/completion"
	configcmd "github.com/tars-ops/tarsctl/internal/cli/config"
	deploycmd "github.com/tars-ops/tarsctl/internal/cli/deploy"
	keyscmd "github.com/tars-ops/tarsctl/internal/cli/keys"
	"github.com/tars-ops/tarsctl/internal/cli/lifecycle"
	loadtestcmd "github.com/tars-ops/tarsctl/internal/cli/loadtest"
	releasecmd "github.com/tars-ops/tarsctl/internal/cli/release"
	sbomcmd "github.com/tars-ops/tarsctl/internal/cli/sbom"
	secretscmd "github.com/tars-ops/tarsctl/internal/cli/secrets"
	"github.com/tars-ops/tarsctl/internal/cli/serve"
	slsacmd "github.com/tars-ops/tarsctl/internal/cli/slsa"
	triagecmd "github.com/tars-ops/tarsctl/internal/cli/triage"
	"github.com/tars-ops/tarsctl/internal/cli/users"
	"github.com/tars-ops/tarsctl/internal/cli/version"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
)

// Command group IDs.
const (
	groupService     = "service"
	groupConfig      = "config"
	groupSupplyChain = "supply-chain"
	groupOther       = "other"
)

// NewCmdRoot returns the root command with every command attached.
// Building it must stay cheap: no I/O, no configuration loading.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	g := f.Globals
	cmd := &cobra.Command{
		Use:   "tarsctl <command> [flags]",
		Short: "Operate and serve T.A.R.S.",
		Long: heredoc.Doc(`
			tarsctl is the operator toolkit for T.A.R.S. (Telemetry, Analytics and
			Response System): one binary that operates the system and runs its
			service daemons.

			Data goes to stdout and everything else (progress, warnings, errors) to
			stderr; -o json gives stable JSON for scripts. Exit codes are listed by
			tarsctl help exit-codes.
		`),
		Example: heredoc.Doc(`
			$ tarsctl config show --profile production
			$ tarsctl config validate ./tars.yaml
			$ tarsctl version -o json
		`),
		Version:       build.Info().Version,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return preRun(f, cmd)
		},
	}
	cmd.SetVersionTemplate("{{.Annotations.versionText}}")
	cmd.Annotations = map[string]string{"versionText": version.Format(build.Info())}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorWrap(err) })
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmdutil.GroupCommand(cmd)

	pf := cmd.PersistentFlags()
	pf.StringVar(&g.Profile, "profile", "", "configuration profile: "+strings.Join(config.ProfileNames(), ", ")+" (default $TARS_PROFILE or local)")
	pf.StringVar(&g.ConfigFile, "config", "", "config file layered over the profile (default $TARS_CONFIG or $XDG_CONFIG_HOME/tarsctl/config.yaml)")
	pf.StringArrayVar(&g.Set, "set", nil, "set a configuration key, highest precedence (repeatable): --set api.port=4000")
	pf.StringVarP(&g.Output, "output", "o", cmdutil.OutputText, "output format: text or json (some commands also yaml)")
	pf.BoolVar(&g.NoColor, "no-color", false, "disable colour (also NO_COLOR=1)")
	pf.BoolVarP(&g.Verbose, "verbose", "v", false, "print more detail: the configuration sources used, the meaning of a failure's exit status")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "print only errors and warnings, and the requested data")

	_ = cmd.RegisterFlagCompletionFunc("profile", cobra.FixedCompletions(config.ProfileNames(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("config", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
	})
	_ = cmd.RegisterFlagCompletionFunc("output", func(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return cmdutil.OutputFormats(c), cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("set", func(_ *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		var keys []string
		for _, fl := range config.Fields() {
			keys = append(keys, fl.Key+"=\t"+fl.Doc)
		}
		return keys, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
	})

	cmd.AddGroup(
		&cobra.Group{ID: groupService, Title: "Service commands:"},
		&cobra.Group{ID: groupConfig, Title: "Configuration commands:"},
		&cobra.Group{ID: groupSupplyChain, Title: "Supply chain commands:"},
		&cobra.Group{ID: groupOther, Title: "Other commands:"},
	)
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			cmd.AddCommand(c)
		}
	}
	add(groupService,
		lifecycle.NewCmdStart(f, nil), lifecycle.NewCmdStop(f, nil), lifecycle.NewCmdRestart(f, nil),
		lifecycle.NewCmdStatus(f, nil), lifecycle.NewCmdLogs(f, nil), lifecycle.NewCmdHealth(f, nil),
		serve.NewCmdServe(f, nil), users.NewCmdUsers(f))
	add(groupService, triagecmd.NewCmdTriage(f))
	add(groupService, agentscmd.NewCmdAgents(f))
	add(groupService, backupcmd.NewCmdBackup(f))
	add(groupService, deploycmd.NewCmdDeploy(f))
	add(groupConfig, configcmd.NewCmdConfig(f))
	add(groupConfig, keyscmd.NewCmdKeys(f), secretscmd.NewCmdSecrets(f))
	add(groupSupplyChain, sbomcmd.NewCmdSBOM(f), slsacmd.NewCmdSLSA(f), releasecmd.NewCmdRelease(f))
	add(groupOther, loadtestcmd.NewCmdLoadtest(f))
	add(groupOther,
		version.NewCmdVersion(f, nil),
		completion.NewCmdCompletion(f),
	)
	cmd.SetHelpCommandGroupID(groupOther)
	for _, t := range HelpTopics {
		cmd.AddCommand(newHelpTopic(t))
	}
	indentExamples(cmd)
	return cmd
}

// indentExamples indents every command's examples under cobra's
// "Examples:" heading, so each command can write them flush left.
func indentExamples(cmd *cobra.Command) {
	if cmd.Example != "" && !strings.HasPrefix(cmd.Example, "  ") {
		lines := strings.Split(strings.TrimRight(cmd.Example, "\n"), "\n")
		for i, l := range lines {
			if l != "" {
				lines[i] = "  " + l
			}
		}
		cmd.Example = strings.Join(lines, "\n")
	}
	for _, c := range cmd.Commands() {
		indentExamples(c)
	}
}

// preRun applies the global flags before any command runs.
func preRun(f *cmdutil.Factory, cmd *cobra.Command) error {
	g := f.Globals
	if g.Verbose && g.Quiet {
		return cmdutil.FlagErrorf("--verbose and --quiet cannot be used together")
	}
	if err := cmdutil.CheckOutputFormat(cmd, g.Output); err != nil {
		return err
	}
	if err := cmdutil.CheckEnumFlags(cmd); err != nil {
		return err
	}
	if g.NoColor {
		f.IOStreams.SetColorDepth(iostreams.ColorNone)
	}
	return nil
}

// HelpTopic is a `tarsctl help TOPIC` page.
type HelpTopic struct {
	Name  string
	Short string
	Long  string
}

func newHelpTopic(t HelpTopic) *cobra.Command {
	return &cobra.Command{
		Use:   t.Name,
		Short: t.Short,
		Long:  t.Long,
		// No Run: cobra lists it under "Additional help topics" and
		// `tarsctl help NAME` prints Long.
	}
}

// HelpTopics are the help pages that are not commands.
var HelpTopics = []HelpTopic{
	{Name: "exit-codes", Short: "Exit codes and what they mean", Long: exitCodesHelp()},
	{Name: "environment", Short: "Environment variables tarsctl reads", Long: environmentHelp},
	{Name: "output", Short: "Output formats, streams and colour", Long: outputHelp},
}

func exitCodesHelp() string {
	var b strings.Builder
	b.WriteString("tarsctl exits with one of these codes; scripts, cron jobs and CI steps can rely on them.\n\n")
	for _, c := range cmdutil.ExitCodes {
		fmt.Fprintf(&b, "  %-4d %s\n", c.Code, c.Meaning)
	}
	b.WriteString("\nWith -o json, a failure also writes {\"type\":\"error\",\"code\":N,\"message\":...,\"hint\":[...]}\nto stderr.\n")
	return b.String()
}

var environmentHelp = heredoc.Doc(`
	TARS_PROFILE     configuration profile when --profile is not given (default local)
	TARS_CONFIG      config file when --config is not given
	TARS_<KEY>       any configuration key, dots and dashes as underscores:
	                 TARS_API_PORT=4000, TARS_RATE_LIMITING_REQUESTS_PER_MINUTE=60;
	                 lists are comma-separated. tarsctl config show lists the keys.
	XDG_CONFIG_HOME  the default config file is $XDG_CONFIG_HOME/tarsctl/config.yaml
	                 (~/.config/tarsctl/config.yaml when unset)
	NO_COLOR         any value turns colour off
	CLICOLOR_FORCE   any value but 0 turns colour on even when not on a terminal
	TARS_FORCE_TTY   treat stdout as a terminal (a number sets the width)
`)

var outputHelp = heredoc.Doc(`
	stdout carries data; stderr carries everything else (progress, ✓/✗ status
	lines, warnings, errors), so "tarsctl ... -o json | jq" always sees valid JSON.

	-o text (default): on a terminal, aligned tables with upper-case headers and
	relative times; otherwise tab-separated rows without a header and RFC 3339
	times, for cut, awk and sort.

	-o json: one JSON document for a finite result; streams (progress, load-test
	results) are JSON Lines with a "type" field on every object. Field names are
	snake_case and only ever added to.

	Colour is used only on a terminal, never with NO_COLOR or --no-color.
	--quiet prints only errors, warnings and the requested data.
`)
