// Package compose builds the Docker Compose file of a T.A.R.S. stack and
// runs `docker compose` on it.
//
// # The file
//
// [Render] turns a configuration into the runbook's stack (runbook "Model 2:
// Docker Compose"): redis with an append-only file, postgres whose password
// is a Compose secret file, and one container per daemon of the service
// catalog (internal/services), under the entry's Compose name (the
// runbook's multi-agent for the orchestration agent). Every
// daemon container runs the same tarsctl image with the command `serve
// SERVICE`, checks its health with `tarsctl health` against its own /health
// (the image is built FROM scratch and holds no shell or curl), and waits for
// what it depends on to be healthy (depends_on with condition
// service_healthy). The containers load the same embedded profile as the
// command that rendered the file (TARS_PROFILE), with the few keys the
// Compose network changes (hosts, peer URLs, secret files) set as TARS_*
// variables, plus whatever the caller passes in [Options.Env].
//
// The file is built from Go structs and marshalled with go.yaml.in/yaml/v3:
// the same input gives the same bytes, maps come out sorted.
//
// # Running docker compose
//
// [Runner] runs `docker compose -f FILE ...` with the caller's standard
// streams. [Runner.Check] finds out first whether a Docker engine answers,
// so a missing engine is reported as [ErrNoEngine] (exit 3 in the CLI)
// instead of a wall of docker client output.
package compose

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/services"
)

// Default images of the stores, as in the runbook.
const (
	DefaultRedisImage    = "redis:7.0-alpine"
	DefaultPostgresImage = "postgres:14-alpine"
	// DefaultProject is the Compose project name.
	DefaultProject = "tars"
	// SecretsDir is where the secret files are read from, relative to the
	// Compose file; `tarsctl secrets generate --dir secrets` writes them.
	SecretsDir = "./secrets"
	// DataDir and LogDir are where the daemons keep data and logs in the
	// container (the docker profile's paths.home is /var/lib/tars).
	containerHome = "/var/lib/tars"
)

// File is a Compose file: the parts of the Compose specification tarsctl
// writes. Field order is the order in the output.
type File struct {
	Name     string              `yaml:"name"`
	Services map[string]*Service `yaml:"services"`
	Volumes  map[string]*Volume  `yaml:"volumes,omitempty"`
	Secrets  map[string]*Secret  `yaml:"secrets,omitempty"`
}

// Service is one container.
type Service struct {
	Image       string                `yaml:"image"`
	Command     []string              `yaml:"command,omitempty"`
	User        string                `yaml:"user,omitempty"`
	Restart     string                `yaml:"restart,omitempty"`
	Ports       []string              `yaml:"ports,omitempty"`
	Environment map[string]string     `yaml:"environment,omitempty"`
	Secrets     []ServiceSecret       `yaml:"secrets,omitempty"`
	Volumes     []string              `yaml:"volumes,omitempty"`
	DependsOn   map[string]Dependency `yaml:"depends_on,omitempty"`
	Healthcheck *Healthcheck          `yaml:"healthcheck,omitempty"`
	ReadOnly    bool                  `yaml:"read_only,omitempty"`
	SecurityOpt []string              `yaml:"security_opt,omitempty"`
}

// ServiceSecret mounts a secret at /run/secrets/TARGET.
type ServiceSecret struct {
	Source string `yaml:"source"`
	Target string `yaml:"target,omitempty"`
}

// Dependency is a depends_on entry.
type Dependency struct {
	Condition string `yaml:"condition"`
}

// Healthcheck is a container health check.
type Healthcheck struct {
	Test        []string `yaml:"test"`
	Interval    string   `yaml:"interval"`
	Timeout     string   `yaml:"timeout"`
	Retries     int      `yaml:"retries"`
	StartPeriod string   `yaml:"start_period"`
}

// Volume is a named volume (empty: docker's local driver).
type Volume struct{}

// Secret is a file-backed secret.
type Secret struct {
	File string `yaml:"file"`
}

// Options describe the stack to render.
type Options struct {
	// Config is the configuration the containers run with.
	Config *config.Config
	// Profile is the embedded profile the containers load (TARS_PROFILE).
	Profile string
	// Image is the tarsctl image every daemon container runs.
	Image string
	// RedisImage and PostgresImage default to the runbook's images.
	RedisImage    string
	PostgresImage string
	// Project is the Compose project name (default "tars").
	Project string
	// Env is extra environment for the daemon containers (TARS_* keys the
	// caller set beyond the profile). It must hold no secret values.
	Env map[string]string
}

// Compose service names: the runbook's, which differ from the daemon name
// for the orchestration agent ("multi-agent").
const (
	Redis    = "redis"
	Postgres = "postgres"
)

// ServiceName returns the Compose service of a daemon: its catalog
// entry's Compose name.
func ServiceName(daemon string) string {
	if e, ok := services.Lookup(daemon); ok {
		return e.ComposeService()
	}
	return daemon
}

// StackServices lists the Compose services a rendered stack can hold: the
// stores, then each daemon of the catalog under its Compose name.
func StackServices() []string {
	return append([]string{Redis, Postgres}, DaemonServices()...)
}

// DaemonServices are the Compose services of the catalog's daemons, in
// its order.
func DaemonServices() []string {
	var out []string
	for _, e := range services.All() {
		out = append(out, e.ComposeService())
	}
	return out
}

// secret names (Compose) and the file names in /run/secrets (the
// profiles' key_file paths).
type secretSpec struct{ name, target string }

var (
	secretDBPassword    = secretSpec{"db_password", "db_password"}
	secretRedisPassword = secretSpec{"redis_password", "redis_password"}
	secretJWT           = secretSpec{"jwt_secret", "jwt_secret"}
	secretAES           = secretSpec{"aes_key", "aes.key"}
	secretRSA           = secretSpec{"rsa_private_key", "rsa_private.pem"}
)

// Build returns the Compose file for opts.
func Build(opts Options) (*File, error) {
	cfg := opts.Config
	if cfg == nil {
		return nil, fmt.Errorf("render compose file: no configuration")
	}
	if opts.Image == "" {
		return nil, fmt.Errorf("render compose file: no tarsctl image")
	}
	if opts.Profile == "" {
		return nil, fmt.Errorf("render compose file: no profile")
	}
	f := &File{
		Name:     or(opts.Project, DefaultProject),
		Services: map[string]*Service{},
		Volumes:  map[string]*Volume{},
		Secrets:  map[string]*Secret{},
	}
	addSecret := func(s secretSpec) ServiceSecret {
		f.Secrets[s.name] = &Secret{File: SecretsDir + "/" + s.target}
		return ServiceSecret{Source: s.name, Target: s.target}
	}

	redisPassword := cfg.Redis.Enabled && cfg.Redis.Password.IsSet()
	if cfg.Redis.Enabled {
		svc := &Service{
			Image:   or(opts.RedisImage, DefaultRedisImage),
			Command: []string{"redis-server", "--appendonly", "yes"},
			Restart: "unless-stopped",
			Ports:   []string{"6379:6379"},
			Volumes: []string{"redis-data:/data"},
			Healthcheck: &Healthcheck{
				Test: []string{"CMD", "redis-cli", "ping"}, Interval: "10s", Timeout: "5s", Retries: 5, StartPeriod: "5s",
			},
		}
		if redisPassword {
			// The password comes from a secret file, so it is read by a
			// shell at start; "$$" is Compose's escape for a literal "$".
			svc.Secrets = []ServiceSecret{addSecret(secretRedisPassword)}
			svc.Command = []string{"sh", "-c", `exec redis-server --appendonly yes --requirepass "$$(cat /run/secrets/redis_password)"`}
			svc.Healthcheck.Test = []string{"CMD-SHELL", `REDISCLI_AUTH="$$(cat /run/secrets/redis_password)" redis-cli ping | grep -q PONG`}
		}
		f.Services[Redis] = svc
		f.Volumes["redis-data"] = &Volume{}
	}
	usePostgres := cfg.Database.Driver == config.DatabasePostgres && !cfg.Database.URL.IsSet()
	if usePostgres {
		db, user := or(cfg.Database.Name, "tars"), or(cfg.Database.User, "tars")
		f.Services[Postgres] = &Service{
			Image:   or(opts.PostgresImage, DefaultPostgresImage),
			Restart: "unless-stopped",
			Environment: map[string]string{
				"POSTGRES_DB":            db,
				"POSTGRES_USER":          user,
				"POSTGRES_PASSWORD_FILE": "/run/secrets/db_password",
			},
			Secrets: []ServiceSecret{addSecret(secretDBPassword)},
			Volumes: []string{"postgres-data:/var/lib/postgresql/data"},
			Healthcheck: &Healthcheck{
				Test: []string{"CMD-SHELL", "pg_isready -U " + user + " -d " + db}, Interval: "10s", Timeout: "5s", Retries: 5, StartPeriod: "10s",
			},
		}
		f.Volumes["postgres-data"] = &Volume{}
	}

	// What every daemon container shares: the profile, the Compose hosts,
	// and where the peers are.
	env := map[string]string{"TARS_PROFILE": opts.Profile}
	// Only the daemons that use Redis get its settings and password, and
	// only those that use the database get its.
	redisEnv := map[string]string{}
	if cfg.Redis.Enabled {
		redisEnv[config.EnvVarFor("redis.host")] = Redis
		redisEnv[config.EnvVarFor("redis.port")] = "6379"
		redisEnv[config.EnvVarFor("redis.mode")] = config.RedisStandalone
		if redisPassword {
			redisEnv[config.EnvVarFor("redis.password")] = "file:/run/secrets/redis_password"
		}
	}
	dbEnv := map[string]string{}
	if usePostgres {
		dbEnv[config.EnvVarFor("database.host")] = Postgres
		dbEnv[config.EnvVarFor("database.port")] = "5432"
		dbEnv[config.EnvVarFor("database.password")] = "file:/run/secrets/db_password"
		// postgres:14-alpine serves no TLS; the database travels only on
		// the stack's own network.
		dbEnv[config.EnvVarFor("database.sslmode")] = "disable"
	}
	env[config.EnvVarFor("api.host")] = "0.0.0.0"
	env[config.EnvVarFor("paths.home")] = containerHome
	daemons := services.All()
	ports := map[string][]int{} // daemon → API port, then its peer port
	for _, e := range daemons {
		port := e.Port(cfg)
		if port <= 0 {
			return nil, fmt.Errorf("render compose file: %s has no port in the configuration", e.Name)
		}
		ports[e.Name] = []int{port}
		if peer := e.PeerPortIn(cfg); peer != 0 {
			ports[e.Name] = append(ports[e.Name], peer)
		}
		if e.ConfigKey == "" {
			continue // a daemon without a section: nothing to tell the others
		}
		key := "services." + e.ConfigKey
		env[config.EnvVarFor(key+".url")] = "http://" + e.ComposeService() + ":" + strconv.Itoa(port)
		if e.PortConfigKey() == key+".port" {
			env[config.EnvVarFor(key+".port")] = strconv.Itoa(port)
		}
		if len(ports[e.Name]) > 1 {
			if _, ok := config.LookupField(key + ".peer_port"); ok {
				env[config.EnvVarFor(key+".peer_port")] = strconv.Itoa(ports[e.Name][1])
			}
		}
	}
	for k, v := range opts.Env {
		if _, fixed := env[k]; !fixed {
			env[k] = v
		}
	}
	if cfg.Auth.Enabled && !cfg.Auth.JWTSecret.IsSet() && cfg.Auth.JWTSecretFile == "" {
		env[config.EnvVarFor("auth.jwt_secret_file")] = "/run/secrets/jwt_secret"
	}

	f.Volumes["tars-data"] = &Volume{}
	f.Volumes["tars-logs"] = &Volume{}
	for _, e := range daemons {
		svc := &Service{
			Image:       opts.Image,
			Command:     []string{"serve", e.Name},
			Restart:     "unless-stopped",
			Environment: maps(env),
			Volumes:     []string{"tars-data:" + containerHome + "/data", "tars-logs:" + containerHome + "/logs"},
			DependsOn:   map[string]Dependency{},
			Healthcheck: &Healthcheck{
				Test:     []string{"CMD", "tarsctl", "health", fmt.Sprintf("http://127.0.0.1:%d/health", ports[e.Name][0])},
				Interval: "10s", Timeout: "5s", Retries: 5, StartPeriod: or(e.Compose.StartPeriod, "10s"),
			},
			ReadOnly:    true,
			SecurityOpt: []string{"no-new-privileges:true"},
		}
		for _, p := range ports[e.Name] {
			svc.Ports = append(svc.Ports, fmt.Sprintf("%d:%d", p, p))
		}
		for _, v := range e.Compose.Volumes {
			svc.Volumes = append(svc.Volumes, v)
			// A named volume (not a path on the host) is declared.
			if name, _, ok := strings.Cut(v, ":"); ok && name != "" && !strings.ContainsAny(name[:1], "./~$") {
				f.Volumes[name] = &Volume{}
			}
		}
		if cfg.Redis.Enabled && e.Uses(services.ServerRedis) {
			for k, v := range redisEnv {
				svc.Environment[k] = v
			}
			svc.DependsOn[Redis] = Dependency{Condition: "service_healthy"}
			if redisPassword {
				svc.Secrets = append(svc.Secrets, addSecret(secretRedisPassword))
			}
		}
		for _, d := range e.DependsOn {
			svc.DependsOn[ServiceName(d)] = Dependency{Condition: "service_healthy"}
		}
		if usePostgres && e.Uses(services.ServerDatabase) {
			for k, v := range dbEnv {
				svc.Environment[k] = v
			}
			svc.DependsOn[Postgres] = Dependency{Condition: "service_healthy"}
			svc.Secrets = append(svc.Secrets, addSecret(secretDBPassword))
		}
		for k, v := range e.Compose.Env {
			svc.Environment[k] = v
		}
		// Every daemon checks tokens with the JWT secret.
		if env[config.EnvVarFor("auth.jwt_secret_file")] == "/run/secrets/jwt_secret" {
			svc.Secrets = append(svc.Secrets, addSecret(secretJWT))
		}
		if cfg.Encryption.Enabled && strings.HasPrefix(cfg.Encryption.KeyFile, "/run/secrets/") {
			svc.Secrets = append(svc.Secrets, addSecret(secretAES))
		}
		if cfg.Signing.Enabled && strings.HasPrefix(cfg.Signing.KeyFile, "/run/secrets/") {
			svc.Secrets = append(svc.Secrets, addSecret(secretRSA))
		}
		if len(svc.DependsOn) == 0 {
			svc.DependsOn = nil
		}
		f.Services[e.ComposeService()] = svc
	}
	if len(f.Secrets) == 0 {
		f.Secrets = nil
	}
	return f, nil
}

// Header is the comment at the top of a rendered file.
const Header = "# Docker Compose stack of T.A.R.S., written by `tarsctl deploy compose render`.\n" +
	"# Secrets are read from ./secrets (tarsctl secrets generate --dir secrets).\n"

// Render returns the Compose file for opts as YAML, with [Header] first.
func Render(opts Options) ([]byte, error) {
	f, err := Build(opts)
	if err != nil {
		return nil, err
	}
	return Marshal(f)
}

// Marshal encodes f as YAML with a two-space indent, [Header] first.
func Marshal(f *File) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(Header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encode compose file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Parse decodes a Compose file written by [Marshal].
func Parse(data []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse compose file: %w", err)
	}
	return &f, nil
}

// ServiceNames lists the services of f, sorted.
func (f *File) ServiceNames() []string {
	var out []string
	for n := range f.Services {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// DefaultRepository is the image repository of tarsctl: what the air-gap
// bundle tags its image as, and what a rendered file runs by default.
const DefaultRepository = "company/tars"

// ImageTag is the image tag of a tarsctl version: the version without its
// leading "v" (v1.0.2 → 1.0.2), as the runbook tags its images.
func ImageTag(version string) string {
	t := strings.TrimPrefix(version, "v")
	if t == "" {
		return "latest"
	}
	// A tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; "+" of semver build
	// metadata is not allowed.
	return strings.NewReplacer("+", "-", "/", "-").Replace(t)
}

// DefaultImage is DefaultRepository tagged for version.
func DefaultImage(version string) string { return DefaultRepository + ":" + ImageTag(version) }
