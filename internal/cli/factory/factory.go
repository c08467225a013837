// Package factory wires the real dependencies of tarsctl's commands. It is
// the only place that builds clients; everything expensive is lazy.
package factory

import (
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// New returns the factory for one tarsctl invocation.
func New(ios *iostreams.IOStreams, getenv func(string) string) *cmdutil.Factory {
	f := &cmdutil.Factory{
		IOStreams: ios,
		Globals:   &cmdutil.GlobalFlags{},
		Getenv:    getenv,
		Now:       time.Now,
	}

	// ConfigResult depends on Globals, which cobra fills before RunE.
	var (
		once sync.Once
		res  *config.Result
		err  error
	)
	f.ConfigResult = func() (*config.Result, error) {
		once.Do(func() {
			res, err = config.Load(config.LoadOptions{
				Profile:    f.Globals.Profile,
				ConfigFile: f.Globals.ConfigFile,
				Set:        f.Globals.Set,
				Getenv:     getenv,
			})
			if f.Globals.Verbose && res != nil {
				file := res.ConfigFile
				if file == "" {
					file = "none"
				}
				ui.NewStatus(ios, false).Info("configuration: profile %s, config file %s", res.Profile, file)
			}
		})
		return res, err
	}
	f.Config = func() (*config.Config, error) {
		r, err := f.ConfigResult()
		if err != nil {
			return nil, configHint(err)
		}
		return r.Config, nil
	}
	f.ConfigWithFlags = func(flags *pflag.FlagSet, keys map[string]string) (*config.Config, error) {
		r, err := config.Load(config.LoadOptions{
			Profile:    f.Globals.Profile,
			ConfigFile: f.Globals.ConfigFile,
			Set:        f.Globals.Set,
			Flags:      flags,
			FlagKeys:   keys,
			Getenv:     getenv,
		})
		if err != nil {
			return nil, configHint(err)
		}
		return r.Config, nil
	}
	return f
}

func configHint(err error) error {
	return cmdutil.WithHint(err, "run `tarsctl config validate` to check the configuration, and `tarsctl config show` to see each value and where it comes from")
}
