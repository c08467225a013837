// Package docgen renders tarsctl's command reference (Markdown and man
// pages) and shell completion scripts from the real command tree, and the
// Helm chart's generated files from the service catalog. It renders into
// memory so that a test can compare the result with the committed files
// and fail when they are stale.
package docgen

import (
	"bytes"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/tars-ops/tarsctl/internal/cli/completion"
	"github.com/tars-ops/tarsctl/internal/cli/factory"
	"github.com/tars-ops/tarsctl/internal/cli/root"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/deploy/chart"
	"github.com/tars-ops/tarsctl/internal/iostreams"
)

// Dirs are the generated directories, relative to the repository root.
// Generate owns every file in them.
var Dirs = []string{"docs/cli", "docs/man", "completions"}

// manDate is printed in the man pages' footer. It is fixed so that the
// pages do not change with the day they are generated; bump it with
// releases that change the command surface.
var manDate = time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)

// completionFiles maps each shell to the file its script is written to.
var completionFiles = map[string]string{
	"bash":       "completions/tarsctl.bash",
	"zsh":        "completions/_tarsctl",
	"fish":       "completions/tarsctl.fish",
	"powershell": "completions/tarsctl.ps1",
}

// Generate renders every generated file, keyed by path relative to the
// repository root.
func Generate() (map[string][]byte, error) {
	ios, _, _, _ := iostreams.Test()
	// An empty environment: the docs must not depend on who generates them.
	rootCmd := root.NewCmdRoot(factory.New(ios, func(string) string { return "" }))
	out := map[string][]byte{}

	var cmds []*cobra.Command
	collect(rootCmd, &cmds)
	header := &doc.GenManHeader{Title: "TARSCTL", Section: "1", Source: "tarsctl", Manual: "tarsctl manual", Date: &manDate}
	for _, c := range cmds {
		c.DisableAutoGenTag = true
		base := strings.ReplaceAll(c.CommandPath(), " ", "_")
		var md bytes.Buffer
		if err := doc.GenMarkdownCustom(c, &md, func(name string) string { return name }); err != nil {
			return nil, fmt.Errorf("render markdown for %q: %w", c.CommandPath(), err)
		}
		out[path.Join("docs/cli", base+".md")] = md.Bytes()

		var man bytes.Buffer
		h := *header
		if err := doc.GenMan(c, &h, &man); err != nil {
			return nil, fmt.Errorf("render man page for %q: %w", c.CommandPath(), err)
		}
		out[path.Join("docs/man", strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")] = man.Bytes()
	}
	for _, t := range root.HelpTopics {
		out[path.Join("docs/cli", "tarsctl_help_"+t.Name+".md")] = topicMarkdown(t)
	}
	out["docs/cli/README.md"] = index(cmds)
	out["docs/cli/config-keys.md"] = configKeys()

	for shell, file := range completionFiles {
		var b bytes.Buffer
		if err := completion.Write(rootCmd, shell, &b); err != nil {
			return nil, fmt.Errorf("render %s completion: %w", shell, err)
		}
		out[file] = b.Bytes()
	}

	// The Helm chart's lists of daemons, from the service catalog.
	chartFiles, err := chart.Generated()
	if err != nil {
		return nil, err
	}
	for rel, data := range chartFiles {
		out[rel] = data
	}
	return out, nil
}

// collect lists the commands that get a page: every available command,
// depth first.
func collect(c *cobra.Command, out *[]*cobra.Command) {
	if !c.IsAvailableCommand() && c.HasParent() {
		return
	}
	if c.IsAdditionalHelpTopicCommand() {
		return
	}
	*out = append(*out, c)
	for _, sub := range c.Commands() {
		collect(sub, out)
	}
}

func topicMarkdown(t root.HelpTopic) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "## tarsctl help %s\n\n%s\n\n```\n%s```\n\n### SEE ALSO\n\n* [tarsctl](tarsctl.md)\t - Operate and serve T.A.R.S.\n", t.Name, t.Short, t.Long)
	return b.Bytes()
}

func index(cmds []*cobra.Command) []byte {
	var b bytes.Buffer
	b.WriteString("# tarsctl command reference\n\nGenerated from the command tree by `make docs`; do not edit.\n\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "* [%s](%s.md) — %s\n", c.CommandPath(), strings.ReplaceAll(c.CommandPath(), " ", "_"), c.Short)
	}
	b.WriteString("\nHelp topics:\n\n")
	for _, t := range root.HelpTopics {
		fmt.Fprintf(&b, "* [tarsctl help %s](tarsctl_help_%s.md) — %s\n", t.Name, t.Name, t.Short)
	}
	return b.Bytes()
}

// configKeys renders the table of configuration keys from the schema.
func configKeys() []byte {
	var b bytes.Buffer
	b.WriteString("# Configuration keys\n\nGenerated from internal/config by `make docs`; do not edit. ")
	b.WriteString("See [configuration.md](../configuration.md) for precedence, profiles and secrets.\n\n")
	b.WriteString("| key | type | environment variable | allowed values | description |\n|---|---|---|---|---|\n")
	for _, f := range config.Fields() {
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s |\n", f.Key, f.Kind, f.EnvVar(), strings.Join(f.Enum, ", "), f.Doc)
	}
	b.WriteString("\nThe runbook's `redis.sentinel: true` is accepted in files and means `redis.mode: sentinel`.\n")
	return b.Bytes()
}
