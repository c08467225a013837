// Package agents implements `tarsctl agents`: list, train and tune the
// orchestration agent's reinforcement-learning agents, directly or through
// HyperSync.
package agents

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/user"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/build"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/serviceapi"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/store"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// Orchestrator is what the agents commands need from the orchestration
// agent's API; *client.Client implements it.
type Orchestrator interface {
	ListAgents(ctx context.Context) ([]client.Agent, error)
	Train(ctx context.Context, id string, req client.TrainRequest) (client.TrainResult, error)
	SetHyperparameters(ctx context.Context, id string, u client.HyperparameterUpdate) (client.Agent, error)
	BaseURL() string
}

// HyperSync is what `agents set --via-hypersync` needs from HyperSync's
// API; *client.Client implements it.
type HyperSync interface {
	SubmitSync(ctx context.Context, req client.SyncRequest, wait time.Duration) (client.Sync, error)
	BaseURL() string
}

var (
	_ Orchestrator = (*client.Client)(nil)
	_ HyperSync    = (*client.Client)(nil)
)

// Connect returns a client of a daemon (services.OrchestrationAgent or
// services.HyperSync) that authenticates with role's rights.
type Connect func(service, role string) (*client.Client, error)

// NewCmdAgents returns the `tarsctl agents` command group.
func NewCmdAgents(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agents <command>",
		Short: "List, train and tune the orchestrator's learning agents",
		Long: heredoc.Doc(`
			Drive the orchestration agent (port 8094): list its reinforcement-learning
			agents, run training, and change their hyperparameters, directly or through
			HyperSync (port 8098), which records the change and applies it once the
			orchestrator can be reached.

			The daemons' addresses come from the configuration (services.*.url, or
			api.host and services.*.port). Authentication, when auth.enabled is true:
			the access token in TARS_TOKEN (from dashboard-api's /auth/login) if set;
			otherwise tarsctl signs a 5-minute token itself with the JWT secret all
			daemons share (auth.jwt_secret, auth.jwt_secret_file, TARS_JWT_SECRET, or
			on the local profile SECRETS_DIR/jwt_secret), as "cli:USER" with the
			viewer role for list and operator for train and set. Reading that secret
			takes the same rights as running the daemons. Tokens are never taken as
			command-line arguments, where ps and shell history would keep them.
		`),
	}
	cmdutil.GroupCommand(cmd)
	connect := func(service, role string) (*client.Client, error) {
		cfg, err := f.Config()
		if err != nil {
			return nil, err
		}
		return NewClient(cfg, f.Getenv, service, role)
	}
	cmd.AddCommand(
		NewCmdList(f, connect, nil),
		NewCmdTrain(f, connect, nil),
		NewCmdSet(f, connect, nil),
	)
	return cmd
}

// NewClient returns a client of service at its configured URL, with the
// token described in `tarsctl agents --help`.
func NewClient(cfg *config.Config, getenv func(string) string, service, role string) (*client.Client, error) {
	spec, ok := services.Lookup(service)
	if !ok {
		return nil, fmt.Errorf("unknown service %q", service)
	}
	opts := []client.Option{
		// No client-wide timeout: commands bound each call with --timeout.
		client.WithHTTPClient(&http.Client{}),
		client.WithUserAgent("tarsctl/" + build.Info().Version),
	}
	switch {
	case getenv("TARS_TOKEN") != "":
		opts = append(opts, client.WithToken(getenv("TARS_TOKEN")))
	case cfg.Auth.Enabled:
		secret, _, err := serviceapi.JWTSecret(cfg, getenv)
		if err != nil {
			return nil, cmdutil.PermissionDenied(cmdutil.WithHint(fmt.Errorf("sign a token for %s: %w", service, err),
				"set TARS_TOKEN to an access token from dashboard-api's /auth/login"))
		}
		tokens, err := serviceapi.ServiceTokens(secret, "cli:"+username(), role)
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithTokenSource(tokens))
	}
	return client.New(spec.URL(cfg), opts...)
}

func username() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// apiError turns a client error into the CLI's exit codes and hints.
func apiError(err error, service, url string) error {
	var apiErr *client.APIError
	switch {
	case err == nil:
		return nil
	case client.IsUnreachable(err):
		return cmdutil.Unreachable(cmdutil.WithHint(fmt.Errorf("%s at %s cannot be reached: %w", service, url, err),
			"start it with `tarsctl start "+service+"`, or check services in `tarsctl config show`"))
	case errors.Is(err, client.ErrUnauthorized):
		return cmdutil.PermissionDenied(cmdutil.WithHint(err,
			"the token was refused: set TARS_TOKEN to a fresh access token, or check that tarsctl and the daemons use the same JWT secret"))
	case errors.Is(err, client.ErrForbidden):
		return cmdutil.PermissionDenied(cmdutil.WithHint(err, "this needs the "+store.RoleOperator+" role"))
	case errors.Is(err, client.ErrBadRequest):
		return cmdutil.WithExitCode(cmdutil.ExitUsage, err)
	case errors.Is(err, client.ErrNotFound):
		return cmdutil.WithHint(err, "run `tarsctl agents list` to see the agents; `tarsctl agents train ID` creates one")
	case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusConflict:
		return cmdutil.Failed(err)
	}
	return err
}

func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
