package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/services/dashboardapi"
	"github.com/tars-ops/tarsctl/internal/state"
)

// Service is the daemon's name in logs, pidfiles and metrics.
const Service = services.OrchestrationAgent

// ErrNoKeyFile is returned when encryption is on but no key file is set.
var ErrNoKeyFile = errors.New("encryption.enabled is true but encryption.key_file is not set")

// RunOptions configure [Run].
type RunOptions struct {
	Config  *config.Config
	Version string
	Getenv  func(string) string
	Logger  *slog.Logger
	// Listener, when set, is used instead of listening on the service's
	// address (tests pass 127.0.0.1:0).
	Listener net.Listener
	OnReady  func(net.Addr)
	Force    <-chan struct{}
}

// CheckpointDir is where the agents' checkpoints live:
// DATA_DIR/orchestrator/agents.
func CheckpointDir(cfg *config.Config) string {
	return filepath.Join(cfg.Paths.DataDirPath(), "orchestrator", "agents")
}

// LoadKeys reads the checkpoint key from encryption.key_file. With
// encryption on, the key is required and is returned as the key to write
// with; with it off, a key file that is set is still read so that
// encrypted checkpoints stay readable, and only a warning is logged if it
// cannot be. It logs "AES key loaded" with the key's id, never the key.
func LoadKeys(cfg *config.Config, log *slog.Logger) (write []byte, ring *crypto.Keyring, err error) {
	ring = &crypto.Keyring{}
	enc := cfg.Encryption
	if enc.KeyFile == "" {
		if enc.Enabled {
			return nil, nil, ErrNoKeyFile
		}
		return nil, ring, nil
	}
	key, info, err := crypto.LoadKeyFile(enc.KeyFile)
	if err != nil {
		if enc.Enabled {
			return nil, nil, fmt.Errorf("encryption.key_file: %w", err)
		}
		log.Warn("encryption.key_file cannot be read; encrypted checkpoints will be unreadable", "error", err)
		return nil, ring, nil
	}
	id, _ := ring.Add(key)
	log.Info("AES key loaded", "key_id", id, "key_file", enc.KeyFile, "encryption", enc.Enabled)
	if info.WorldReadable || info.GroupReadable {
		log.Warn(fmt.Sprintf("Key file %s is readable by other users (mode %04o): anyone who can read it can read the checkpoints; chmod 600 it", enc.KeyFile, info.Mode))
	}
	if enc.Enabled {
		return key, ring, nil
	}
	return nil, ring, nil
}

// Run loads the checkpoints and serves the orchestrator's API until ctx is
// cancelled; in-flight training runs finish (within the drain timeout)
// before it returns.
func Run(ctx context.Context, o RunOptions) error {
	cfg, log := o.Config, o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if err := os.MkdirAll(cfg.Paths.DataDirPath(), 0o750); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	secret, source, err := dashboardapi.JWTSecret(cfg, getenv)
	if err != nil {
		return err
	}
	signer, err := auth.NewSigner(secret, time.Duration(cfg.Auth.JWTExpiry)*time.Second, nil)
	if err != nil {
		return fmt.Errorf("JWT secret from %s: %w", source, err)
	}
	key, ring, err := LoadKeys(cfg, log)
	if err != nil {
		return err
	}

	authn := NewAuthenticator(cfg.Auth, signer, log)
	checks := []daemon.Check{daemon.DiskSpaceCheck(cfg.Paths.DataDirPath(), 100<<20)}
	if st, err := Revocations(ctx, cfg, getenv); err != nil {
		return err
	} else if st != nil {
		defer st.Close()
		authn.Revoked = st.IsRevoked
		checks = append(checks, daemon.Check{Name: "redis", Run: func(ctx context.Context) (string, error) {
			if err := st.Ping(ctx); err != nil {
				return "", err
			}
			return daemon.StatusOK, nil
		}})
	}

	reg := daemon.NewRegistry(Service, o.Version)
	orch, err := New(Options{Dir: CheckpointDir(cfg), Key: key, Keyring: ring, Logger: log, Registry: reg})
	if err != nil {
		return err
	}
	checks = append(checks, daemon.Check{Name: "checkpoints", Run: func(context.Context) (string, error) {
		bad := orch.Unreadable()
		if len(bad) == 0 {
			return daemon.StatusOK, nil
		}
		ids := make([]string, 0, len(bad))
		for id := range bad {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		return "", fmt.Errorf("checkpoints: %d unreadable (agents %s); see the start-up log", len(ids), strings.Join(ids, ", "))
	}})

	ln, tlsCfg, err := services.Listen(cfg, Service, o.Listener)
	if err != nil {
		return err
	}
	log.Info("Starting orchestration agent on "+ln.Addr().String(), "tls", tlsCfg != nil, "agents", orch.Len(),
		"checkpoints", CheckpointDir(cfg), "encryption", key != nil)
	if cfg.Auth.Enabled {
		log.Info("JWT authentication enabled", "rbac", cfg.Auth.RBAC, "secret", string(source), "revocations", revocationSource(cfg))
	} else {
		log.Warn("JWT authentication disabled: API requests are not authenticated (set auth.enabled: true)")
	}
	return daemon.Run(ctx, daemon.Options{
		Service: Service, Version: o.Version, Listener: ln, Handler: NewHandler(orch, authn, log), Registry: reg, Logger: log, TLS: tlsCfg,
		ReadTimeout: cfg.API.ReadTimeout, WriteTimeout: cfg.API.WriteTimeout, IdleTimeout: cfg.API.IdleTimeout,
		DrainTimeout: cfg.API.DrainTimeout, Force: o.Force, OnReady: o.OnReady, Checks: checks,
	})
}

func revocationSource(cfg *config.Config) string {
	if cfg.Redis.Enabled {
		return "redis"
	}
	return "not shared (redis disabled): a token revoked by logout stays valid here until it expires"
}

// Revocations opens the Redis that holds dashboard-api's token
// revocations, for an [Authenticator]'s Revoked; it returns nil when
// redis.enabled is false (the revocations then live in dashboard-api's
// process, out of reach).
func Revocations(ctx context.Context, cfg *config.Config, getenv func(string) string) (*state.Redis, error) {
	if !cfg.Redis.Enabled {
		return nil, nil
	}
	pw, err := cfg.Redis.Password.Resolve(getenv)
	if err != nil {
		return nil, fmt.Errorf("redis.password: %w", err)
	}
	return state.OpenRedis(ctx, cfg.Redis, pw)
}
