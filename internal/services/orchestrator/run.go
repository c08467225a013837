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

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/internal/keys"
	"github.com/tars-ops/tarsctl/internal/serviceapi"
	"github.com/tars-ops/tarsctl/internal/services"
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
	// Reconfig, when set, loads the configuration again for a reload on
	// SIGHUP (tarsctl serve passes its loader: config file, environment
	// and flags); nil reuses Config.
	Reconfig func() (*config.Config, error)
}

// CheckpointDir is where the agents' checkpoints live:
// DATA_DIR/orchestrator/agents.
func CheckpointDir(cfg *config.Config) string {
	return filepath.Join(cfg.Paths.DataDirPath(), "orchestrator", "agents")
}

// LoadKeys reads the checkpoint keyring. Its keys come from the keyring
// state file DATA_DIR/aes-keyring.json when one exists (tarsctl keys
// rotate aes writes it while the daemons run), else from
// encryption.key_file (the primary key: seals and opens) and
// encryption.old_key_files (decrypt-only). With encryption on the primary
// key is required and is returned as the key to write with; with it off,
// keys that are set are still read so that encrypted checkpoints stay
// readable, and a key that cannot be read is only a warning. It logs
// "AES key loaded" once per key with its id and role, never the key.
func LoadKeys(cfg *config.Config, log *slog.Logger) (write []byte, ring *crypto.Keyring, err error) {
	lk, err := loadKeyring(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Encryption.Enabled {
		return lk.Primary, lk.Ring, nil
	}
	return nil, lk.Ring, nil
}

func loadKeyring(cfg *config.Config, log *slog.Logger) (*keys.LoadedKeyring, error) {
	enc := cfg.Encryption
	dataDir := cfg.Paths.DataDirPath()
	state, err := keys.ReadKeyringState(dataDir)
	if err != nil {
		return nil, err
	}
	var lk *keys.LoadedKeyring
	source := "encryption.key_file"
	switch {
	case state != nil:
		source = keys.KeyringPath(dataDir)
		log.Info("AES keyring from "+source+" (written by tarsctl keys rotate aes); encryption.key_file and encryption.old_key_files are not used while it exists",
			"phase", string(state.Phase))
		lk, err = state.Load()
	case enc.KeyFile == "" && len(enc.OldKeyFiles) == 0:
		if enc.Enabled {
			return nil, ErrNoKeyFile
		}
		return &keys.LoadedKeyring{Ring: &crypto.Keyring{}}, nil
	case enc.KeyFile == "" && enc.Enabled:
		return nil, ErrNoKeyFile
	default:
		lk, err = keys.LoadKeyring(enc.KeyFile, enc.OldKeyFiles, nil)
	}
	if err != nil {
		if enc.Enabled {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		log.Warn("AES keys cannot be read; encrypted checkpoints will be unreadable", "source", source, "error", err)
		return &keys.LoadedKeyring{Ring: &crypto.Keyring{}}, nil
	}
	for _, k := range lk.Keys {
		log.Info("AES key loaded", "key_id", k.KeyID, "role", k.Role, "key_file", k.KeyFile, "encryption", enc.Enabled)
		if k.Info.WorldReadable || k.Info.GroupReadable {
			log.Warn(fmt.Sprintf("Key file %s is readable by other users (mode %04o): anyone who can read it can read the checkpoints; chmod 600 it", k.KeyFile, k.Info.Mode))
		}
	}
	return lk, nil
}

// keyMetrics export the keyring in force, so that a tool that sent SIGHUP
// can see which keys the daemon holds: tars_orchestrator_aes_key{key_id,
// role} is 1 for each.
type keyMetrics struct{ keys *prometheus.GaugeVec }

func newKeyMetrics(reg prometheus.Registerer) *keyMetrics {
	m := &keyMetrics{keys: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tars_orchestrator_aes_key",
		Help: "AES keys of the checkpoint keyring, by key id and role (primary, decrypt-only); always 1.",
	}, []string{"key_id", "role"})}
	reg.MustRegister(m.keys)
	return m
}

func (m *keyMetrics) set(lk *keys.LoadedKeyring, enabled bool) {
	m.keys.Reset()
	for _, k := range lk.Keys {
		role := k.Role
		if role == keys.RolePrimary && !enabled {
			role = keys.RoleDecryptOnly
		}
		m.keys.WithLabelValues(k.KeyID, role).Set(1)
	}
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
	jwt, err := serviceapi.LoadJWT(cfg, getenv)
	if err != nil {
		return err
	}
	lk, err := loadKeyring(cfg, log)
	if err != nil {
		return err
	}
	var key []byte
	if cfg.Encryption.Enabled {
		key = lk.Primary
	}

	authn, checks, closeAuth, err := serviceapi.OpenAuthenticator(ctx, cfg, getenv, jwt.Signer, log)
	if err != nil {
		return err
	}
	defer closeAuth()

	reg := daemon.NewRegistry(Service, o.Version)
	orch, err := New(Options{Dir: CheckpointDir(cfg), Key: key, Keyring: lk.Ring, Logger: log, Registry: reg})
	if err != nil {
		return err
	}
	km := newKeyMetrics(reg)
	km.set(lk, cfg.Encryption.Enabled)
	// reload re-reads the configuration and the key files, and swaps the
	// keyring in only when every key loaded.
	reload := func(context.Context) error {
		c := cfg
		if o.Reconfig != nil {
			if c, err = o.Reconfig(); err != nil {
				return fmt.Errorf("configuration: %w", err)
			}
		}
		nk, err := loadKeyring(c, log)
		if err != nil {
			return err
		}
		var seal []byte
		if c.Encryption.Enabled {
			seal = nk.Primary
		}
		if err := orch.SetKeys(seal, nk.Ring); err != nil {
			return err
		}
		km.set(nk, c.Encryption.Enabled)
		return nil
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
		log.Info("JWT authentication enabled", "rbac", cfg.Auth.RBAC, "secret", string(jwt.Source), "revocations", serviceapi.RevocationsSource(cfg))
	} else {
		log.Warn("JWT authentication disabled: API requests are not authenticated (set auth.enabled: true)")
	}
	return daemon.Run(ctx, daemon.Options{
		Service: Service, Version: o.Version, Listener: ln, Handler: NewHandler(orch, authn, log), Registry: reg, Logger: log, TLS: tlsCfg,
		ReadTimeout: cfg.API.ReadTimeout, WriteTimeout: cfg.API.WriteTimeout, IdleTimeout: cfg.API.IdleTimeout,
		DrainTimeout: cfg.API.DrainTimeout, Force: o.Force, OnReady: o.OnReady, Checks: checks,
		Reload: reload,
	})
}
