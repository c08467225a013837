package compose

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/build"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/deploy/compose"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// DefaultProfile is the profile a rendered stack runs with when neither
// --profile nor TARS_PROFILE names one.
const DefaultProfile = "docker"

// RenderOptions are the inputs of `tarsctl deploy compose render`.
type RenderOptions struct {
	IO *iostreams.IOStreams
	// ConfigResult loads the configuration the stack runs with.
	ConfigResult func() (*config.Result, error)

	File          string // "-" for stdout
	Image         string
	RedisImage    string
	PostgresImage string
	Project       string
	Force         bool
	Quiet         bool
}

// NewCmdRender returns `tarsctl deploy compose render`.
func NewCmdRender(f *cmdutil.Factory, runF func(context.Context, *RenderOptions) error) *cobra.Command {
	opts := &RenderOptions{IO: f.IOStreams, ConfigResult: f.ConfigResult}
	cmd := &cobra.Command{
		Use:   "render [--output FILE] [--profile NAME] [--image REF]",
		Short: "Write the Docker Compose file of a T.A.R.S. stack",
		Long: heredoc.Docf(`
			Write the runbook's Docker Compose stack to FILE (docker-compose.yaml;
			--output - writes to stdout):

			  redis           redis:7.0-alpine, append-only file on the redis-data volume
			  postgres        postgres:14-alpine, password from the secret file
			                  ./secrets/db_password, data on the postgres-data volume
			%s

			Each daemon waits for what it needs to be healthy (depends_on with
			condition service_healthy), checks its own /health with tarsctl health,
			runs as a non-root user on a read-only root file system, and keeps its
			data and logs on the tars-data and tars-logs volumes.

			The containers load the profile this command ran with (--profile, else
			$TARS_PROFILE, else docker) through TARS_PROFILE; the hosts and URLs of
			the Compose network, and every key set by --config, --set or a TARS_*
			variable, are passed as TARS_* variables. Secret values are never written
			into the file: a secret key set to a literal is left out with a warning
			(give it as file:PATH instead); secrets are read from ./secrets, which
			tarsctl secrets generate --dir secrets fills.

			The output is the same for the same input. An existing FILE is replaced
			only with --force.
		`, daemonLines()),
		Example: heredoc.Doc(`
			$ tarsctl deploy compose render
			$ tarsctl deploy compose render --profile airgap --image registry.airgap.local/tars-ops/tarsctl:1.0.2 --output docker-compose.airgap.yaml
			$ tarsctl deploy compose render --set log_level=DEBUG --output - | less
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Quiet = f.Globals.Quiet
			if opts.Image == "" {
				opts.Image = compose.DefaultImage(build.Info().Version)
			}
			if opts.File == "" {
				return cmdutil.FlagErrorf("--output needs a file name, or - for stdout")
			}
			// A stack needs Redis and PostgreSQL: the local profile (the
			// default elsewhere) has neither, so docker is the default here.
			getenv := f.Getenv
			if getenv == nil {
				getenv = func(string) string { return "" }
			}
			if f.Globals.Profile == "" && getenv("TARS_PROFILE") == "" {
				f.Globals.Profile = DefaultProfile
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return renderRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	// --output names the file here; it shadows the global -o.
	fl.StringVarP(&opts.File, "output", "o", DefaultFile, "file to write, - for stdout")
	// The default depends on the version, so it is filled in by RunE (a
	// version in the flag default would make the generated docs vary).
	fl.StringVar(&opts.Image, "image", "", "tarsctl image the daemons run (default "+compose.DefaultRepository+":VERSION of this tarsctl)")
	fl.StringVar(&opts.RedisImage, "redis-image", compose.DefaultRedisImage, "Redis image")
	fl.StringVar(&opts.PostgresImage, "postgres-image", compose.DefaultPostgresImage, "PostgreSQL image")
	fl.StringVar(&opts.Project, "project", compose.DefaultProject, "Compose project name")
	fl.BoolVar(&opts.Force, "force", false, "replace an existing file")
	_ = cmd.MarkFlagFilename("output", "yaml", "yml")
	return cmd
}

func renderRun(_ context.Context, opts *RenderOptions) error {
	res, err := opts.ConfigResult()
	if err != nil {
		return err
	}
	env, skipped := OverrideEnv(res)
	data, err := compose.Render(compose.Options{
		Config:        res.Config,
		Profile:       res.Profile,
		Image:         opts.Image,
		RedisImage:    opts.RedisImage,
		PostgresImage: opts.PostgresImage,
		Project:       opts.Project,
		Env:           env,
	})
	if err != nil {
		return err
	}
	st := ui.NewStatus(opts.IO, opts.Quiet)
	for _, k := range skipped {
		st.Warning("%s is a literal secret and was not written into the file: set it as file:/run/secrets/NAME (or env:NAME) to pass it on", k)
	}
	if opts.File == "-" {
		_, err := opts.IO.Out.Write(data)
		return err
	}
	err = atomicfile.WriteFile(opts.File, data, atomicfile.Options{Perm: 0o644, NoOverwrite: !opts.Force, MakeDirs: true})
	if errors.Is(err, atomicfile.ErrExists) {
		return cmdutil.FlagErrorWrap(cmdutil.WithHint(fmt.Errorf("%s already exists", opts.File),
			"pass --force to replace it, or --output another file"))
	}
	if err != nil {
		return err
	}
	st.Success("Wrote %s (profile %s, image %s)", opts.File, res.Profile, opts.Image)
	return nil
}

// OverrideEnv returns the TARS_* variables of every key that a config
// file, an environment variable or a flag set (the profile and the
// built-in defaults are loaded in the container anyway), and the keys left
// out because their value is a literal secret.
func OverrideEnv(res *config.Result) (map[string]string, []string) {
	env := map[string]string{}
	var skipped []string
	for _, fl := range config.Fields() {
		src := res.Sources[fl.Key]
		if src == "" || src == "default" || strings.HasPrefix(src, "profile") {
			continue
		}
		v := res.Config.Value(fl)
		var s string
		switch x := v.(type) {
		case config.Secret:
			if x.IsSet() && !x.IsReference() {
				skipped = append(skipped, fl.Key)
				continue
			}
			s = string(x)
		case []string:
			s = strings.Join(x, ",")
		case time.Duration:
			s = x.String()
		case int:
			s = strconv.Itoa(x)
		case bool:
			s = strconv.FormatBool(x)
		case string:
			s = x
		default:
			s = fmt.Sprint(x)
		}
		env[fl.EnvVar()] = s
	}
	slices.Sort(skipped)
	return env, skipped
}

// daemonLines lists the daemons' containers for the help: one per entry of
// the service catalog, under its Compose name.
func daemonLines() string {
	var lines []string
	for i, e := range services.All() {
		what := fmt.Sprintf("%q", "serve "+e.Name)
		if i == 0 {
			what = "the tarsctl image running " + what
		}
		lines = append(lines, fmt.Sprintf("  %-15s %s", e.ComposeService(), what))
	}
	return strings.Join(lines, "\n")
}
