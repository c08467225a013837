package cmdutil

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
)

// GlobalFlags are the persistent flags of the root command. They are filled
// when cobra parses the command line, before any RunE runs.
type GlobalFlags struct {
	Profile    string
	ConfigFile string
	Set        []string
	Output     string
	NoColor    bool
	Verbose    bool
	Quiet      bool
}

// Factory holds the dependencies commands share. Everything that costs
// something (loading configuration, building clients) is a function that
// runs on first use, so `tarsctl version` and shell completion pay nothing
// for it.
type Factory struct {
	IOStreams *iostreams.IOStreams
	Globals   *GlobalFlags
	Getenv    func(string) string
	Now       func() time.Time

	// Config returns the effective configuration, or a
	// [*config.ValidationError] listing every problem.
	Config func() (*config.Config, error)
	// ConfigResult returns the configuration with the source of each value
	// and its problems, for commands that show or check configuration.
	ConfigResult func() (*config.Result, error)
	// ConfigWithFlags loads the configuration with command flags bound to
	// keys (flag name by key), for commands such as serve whose --port
	// overrides api.port.
	ConfigWithFlags func(flags *pflag.FlagSet, keys map[string]string) (*config.Config, error)
}
