package serviceapi

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/state"
)

// OpenAuthenticator builds the authenticator of a daemon that has no
// state store of its own (orchestration-agent, hypersync) from the auth
// settings: with redis.enabled it opens the Redis that holds
// dashboard-api's revocations and checks them there; without, revocations
// are out of reach (they live in dashboard-api's process). It also returns
// the health checks that go with it (disk space, and Redis when used), and
// closeAuth, which releases the Redis connection.
func OpenAuthenticator(ctx context.Context, cfg *config.Config, getenv func(string) string, signer *auth.Signer, log *slog.Logger) (authn *Authenticator, checks []daemon.Check, closeAuth func(), err error) {
	checks = []daemon.Check{daemon.DiskSpaceCheck(cfg.Paths.DataDirPath(), 100<<20)}
	opts := AuthOptions{Enabled: cfg.Auth.Enabled, RBAC: cfg.Auth.RBAC, Signer: signer, Logger: log}
	closeAuth = func() {}
	if cfg.Redis.Enabled {
		pw, err := cfg.Redis.Password.Resolve(getenv)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("redis.password: %w", err)
		}
		st, err := state.OpenRedis(ctx, cfg.Redis, pw)
		if err != nil {
			return nil, nil, nil, err
		}
		opts.Revocations = st
		closeAuth = func() { _ = st.Close() }
		checks = append(checks, state.HealthCheck(st))
	}
	authn, err = NewAuthenticator(opts)
	if err != nil {
		closeAuth()
		return nil, nil, nil, err
	}
	return authn, checks, closeAuth, nil
}

// RevocationsSource says, for a daemon's start-up log, where
// [OpenAuthenticator] checks revocations.
func RevocationsSource(cfg *config.Config) string {
	if cfg.Redis.Enabled {
		return "redis"
	}
	return "not shared (redis disabled): a token revoked by logout stays valid here until it expires"
}
