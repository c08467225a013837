package config

import (
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Config is tarsctl's typed configuration: the keys of the T.A.R.S. profile
// files. Code reads it through these fields, never through string lookups.
//
// Struct tags drive the schema ([Fields]): `mapstructure` names the key,
// `enum` lists the allowed values, and `doc` is shown by `tarsctl config
// show` and written into docs/cli/config-keys.md.
type Config struct {
	Environment  string           `mapstructure:"environment" doc:"deployment environment name"`
	LogLevel     string           `mapstructure:"log_level" enum:"DEBUG|INFO|WARNING|ERROR" doc:"daemon log level"`
	LogFormat    string           `mapstructure:"log_format" enum:"text|json" doc:"daemon log format"`
	Paths        PathsConfig      `mapstructure:"paths"`
	API          APIConfig        `mapstructure:"api"`
	Redis        RedisConfig      `mapstructure:"redis"`
	Database     DatabaseConfig   `mapstructure:"database"`
	Auth         AuthConfig       `mapstructure:"auth"`
	RateLimiting RateLimitConfig  `mapstructure:"rate_limiting"`
	Encryption   EncryptionConfig `mapstructure:"encryption"`
	Signing      SigningConfig    `mapstructure:"signing"`
	Compliance   ComplianceConfig `mapstructure:"compliance"`
	Audit        AuditConfig      `mapstructure:"audit"`
	Services     ServicesConfig   `mapstructure:"services"`
}

// ServicesConfig says where the daemons other than dashboard-api listen
// (on api.host) and how the daemons reach each other. An empty URL is
// derived from api.host and the port: http://HOST:PORT, with 127.0.0.1
// for a wildcard host.
//
// Each field is one daemon's section, services.KEY, named by its
// `mapstructure` tag: the service catalog (internal/services) finds a
// daemon's section through [ServicesConfig.Section] by the key its entry
// names, so adding a daemon adds a field here and its defaults, and no
// accessor. A section is a struct with `port` and `url` fields
// ([PeerConfig]), and an int `peer_port` field for a daemon that also
// listens for its peers (a consensus transport).
type ServicesConfig struct {
	DashboardAPI       PeerConfig `mapstructure:"dashboard_api"`
	OrchestrationAgent PeerConfig `mapstructure:"orchestration_agent"`
	HyperSync          PeerConfig `mapstructure:"hypersync"`
}

// PeerConfig is one daemon's port and the URL others use for it.
type PeerConfig struct {
	Port int    `mapstructure:"port" doc:"port the daemon listens on (dashboard_api: api.port wins)"`
	URL  string `mapstructure:"url" doc:"URL other daemons use to reach it (default http://API_HOST:PORT)"`
}

// PathsConfig says where the daemons keep their files. Empty directories
// are derived from Home: data, logs, run and secrets under it.
type PathsConfig struct {
	Home       string `mapstructure:"home" doc:"base directory for the others"`
	DataDir    string `mapstructure:"data_dir" doc:"databases, checkpoints, data at rest (default HOME/data)"`
	LogDir     string `mapstructure:"log_dir" doc:"service and audit logs (default HOME/logs)"`
	RunDir     string `mapstructure:"run_dir" doc:"pidfiles and locks (default HOME/run)"`
	SecretsDir string `mapstructure:"secrets_dir" doc:"generated secrets, 0700 (default HOME/secrets)"`
}

func orUnder(dir, home, name string) string {
	if dir != "" {
		return dir
	}
	return filepath.Join(home, name)
}

// DataDirPath returns the data directory.
func (p PathsConfig) DataDirPath() string { return orUnder(p.DataDir, p.Home, "data") }

// LogDirPath returns the log directory.
func (p PathsConfig) LogDirPath() string { return orUnder(p.LogDir, p.Home, "logs") }

// RunDirPath returns the directory for pidfiles and locks.
func (p PathsConfig) RunDirPath() string { return orUnder(p.RunDir, p.Home, "run") }

// SecretsDirPath returns the directory for generated secrets.
func (p PathsConfig) SecretsDirPath() string { return orUnder(p.SecretsDir, p.Home, "secrets") }

// APIConfig is the daemons' HTTP listener.
type APIConfig struct {
	Host         string        `mapstructure:"host" doc:"address the API listens on"`
	Port         int           `mapstructure:"port" doc:"API port"`
	Workers      int           `mapstructure:"workers" doc:"request-handling workers"`
	CORSOrigins  []string      `mapstructure:"cors_origins" doc:"origins allowed by CORS"`
	ReadTimeout  time.Duration `mapstructure:"read_timeout" doc:"longest time to read a request"`
	WriteTimeout time.Duration `mapstructure:"write_timeout" doc:"longest time to write a response"`
	IdleTimeout  time.Duration `mapstructure:"idle_timeout" doc:"how long an idle keep-alive connection stays open"`
	DrainTimeout time.Duration `mapstructure:"drain_timeout" doc:"on SIGTERM, how long in-flight requests may take to finish"`
	TLS          TLSConfig     `mapstructure:"tls"`
}

// TLSConfig turns on TLS, and mTLS when ClientCAFile is set.
type TLSConfig struct {
	CertFile     string `mapstructure:"cert_file" doc:"server certificate (PEM); enables TLS"`
	KeyFile      string `mapstructure:"key_file" doc:"server private key (PEM)"`
	ClientCAFile string `mapstructure:"client_ca_file" doc:"CA bundle for client certificates; enables mTLS"`
}

// Redis modes.
const (
	RedisStandalone = "standalone"
	RedisSentinel   = "sentinel"
	RedisCluster    = "cluster"
)

// RedisConfig is the shared Redis store. When Enabled is false the daemons
// use an in-process store (single node only).
type RedisConfig struct {
	Enabled        bool     `mapstructure:"enabled" doc:"use Redis; false means the in-process store"`
	Mode           string   `mapstructure:"mode" enum:"standalone|sentinel|cluster" doc:"Redis deployment mode"`
	Host           string   `mapstructure:"host" doc:"Redis host (or Sentinel host)"`
	Port           int      `mapstructure:"port" doc:"Redis port (or Sentinel port)"`
	Addrs          []string `mapstructure:"addrs" doc:"extra host:port seeds for sentinel and cluster modes"`
	DB             int      `mapstructure:"db" doc:"Redis database number"`
	Password       Secret   `mapstructure:"password" doc:"Redis password"`
	SentinelMaster string   `mapstructure:"sentinel_master" doc:"Sentinel master name"`
	// Username is the Redis ACL user; empty authenticates as "default".
	Username string `mapstructure:"username" doc:"Redis ACL user (empty: the default user)"`
	// PoolSize and ConnMaxLifetime tune the client's connection pool (0:
	// go-redis's defaults: 10 per CPU, no maximum age).
	PoolSize        int           `mapstructure:"pool_size" doc:"Redis connections per daemon (0: 10 per CPU)"`
	ConnMaxLifetime time.Duration `mapstructure:"conn_max_lifetime" doc:"close Redis connections older than this (0: never)"`
	// TLS encrypts every connection: to the server, to the sentinels and
	// to each cluster node alike.
	TLS RedisTLSConfig `mapstructure:"tls"`
}

// RedisTLSConfig turns on TLS to Redis. Server certificates are always
// verified: against CAFile (the system's roots when empty), for
// ServerName (the host connected to when empty). There is deliberately
// no switch that skips verification: it would hand redis.password to
// whoever answers; a private CA goes in CAFile, a name the certificate
// does not carry in ServerName.
type RedisTLSConfig struct {
	Enabled    bool   `mapstructure:"enabled" doc:"connect to Redis over TLS (server, sentinels and cluster nodes)"`
	CAFile     string `mapstructure:"ca_file" doc:"CA bundle (PEM) that signed the Redis certificates (empty: the system's roots)"`
	CertFile   string `mapstructure:"cert_file" doc:"client certificate (PEM), for servers that ask for one (tls-auth-clients)"`
	KeyFile    string `mapstructure:"key_file" doc:"client private key (PEM) of redis.tls.cert_file"`
	ServerName string `mapstructure:"server_name" doc:"name the server certificates must carry (empty: the host connected to)"`
}

// Database drivers.
const (
	DatabaseSQLite   = "sqlite"
	DatabasePostgres = "postgres"
)

// DatabaseConfig is the store for users and dashboard data: an embedded
// SQLite file by default, PostgreSQL in real deployments.
type DatabaseConfig struct {
	Driver   string `mapstructure:"driver" enum:"sqlite|postgres" doc:"database driver"`
	Path     string `mapstructure:"path" doc:"SQLite file (driver sqlite)"`
	Host     string `mapstructure:"host" doc:"PostgreSQL host"`
	Port     int    `mapstructure:"port" doc:"PostgreSQL port"`
	Name     string `mapstructure:"name" doc:"PostgreSQL database name"`
	User     string `mapstructure:"user" doc:"PostgreSQL user"`
	Password Secret `mapstructure:"password" doc:"PostgreSQL password"`
	SSLMode  string `mapstructure:"sslmode" enum:"disable|allow|prefer|require|verify-ca|verify-full" doc:"PostgreSQL sslmode"`
	URL      Secret `mapstructure:"url" doc:"PostgreSQL URL; when set it wins over driver and the fields above"`
}

// AuthConfig is authentication and authorisation for the dashboard API.
type AuthConfig struct {
	Enabled       bool   `mapstructure:"enabled" doc:"require a JWT on API requests"`
	RBAC          bool   `mapstructure:"rbac" doc:"enforce roles (admin, operator, viewer)"`
	RequireMFA    bool   `mapstructure:"require_mfa" doc:"require a second factor at login"`
	JWTExpiry     int    `mapstructure:"jwt_expiry" doc:"access token lifetime, seconds"`
	RefreshExpiry int    `mapstructure:"refresh_expiry" doc:"refresh token lifetime, seconds"`
	JWTSecret     Secret `mapstructure:"jwt_secret" doc:"HMAC key for JWTs (or file:PATH, env:NAME)"`
	JWTSecretFile string `mapstructure:"jwt_secret_file" doc:"file holding the HMAC key for JWTs"`
}

// RateLimitConfig is per-client request rate limiting.
type RateLimitConfig struct {
	Enabled                 bool `mapstructure:"enabled" doc:"limit request rates"`
	RequestsPerMinute       int  `mapstructure:"requests_per_minute" doc:"requests allowed per client IP per minute"`
	GlobalRequestsPerMinute int  `mapstructure:"global_requests_per_minute" doc:"requests allowed from all clients together per minute (0: no global limit)"`
	LoginRequestsPerMinute  int  `mapstructure:"login_requests_per_minute" doc:"login attempts allowed per client IP per minute"`
}

// AuditConfig is the audit log of security events.
type AuditConfig struct {
	Enabled bool   `mapstructure:"enabled" doc:"write the audit log"`
	File    string `mapstructure:"file" doc:"audit log file, JSON lines (default LOG_DIR/audit.log)"`
}

// EncryptionConfig is encryption of data at rest.
type EncryptionConfig struct {
	Enabled   bool   `mapstructure:"enabled" doc:"encrypt data at rest"`
	Algorithm string `mapstructure:"algorithm" enum:"aes-256-gcm" doc:"encryption algorithm"`
	KeyFile   string `mapstructure:"key_file" doc:"AES-256 key file: seals new data and opens data it sealed"`
	// OldKeyFiles are earlier keys kept during a rotation: they open data
	// sealed before it, and never seal.
	OldKeyFiles []string `mapstructure:"old_key_files" doc:"earlier AES-256 key files that still decrypt but never encrypt (during a key rotation)"`
}

// SigningConfig is signing of artifacts and provenance.
type SigningConfig struct {
	Enabled   bool   `mapstructure:"enabled" doc:"sign artifacts"`
	Algorithm string `mapstructure:"algorithm" enum:"rsa-pss" doc:"signature algorithm"`
	KeyFile   string `mapstructure:"key_file" doc:"RSA private key file (PEM) that signs; the runbook's SIGNING_KEY_NEW"`
	// OldKeyFile and VerifyKeys are the runbook's dual-key mode: during a
	// transition the old key's signatures still verify.
	OldKeyFile string   `mapstructure:"old_key_file" doc:"previous RSA private key (PEM), kept during a key transition; never signs, its public half verifies; the runbook's SIGNING_KEY_OLD"`
	VerifyKeys []string `mapstructure:"verify_keys" doc:"public keys (PEM) that verify signatures, new and old; the runbook's VERIFY_KEYS"`
}

// ComplianceConfig is compliance-control enforcement.
type ComplianceConfig struct {
	EnforcementMode   string   `mapstructure:"enforcement_mode" enum:"warn|enforce" doc:"warn about or enforce failed controls"`
	Controls          []string `mapstructure:"controls" enum:"encryption_at_rest|encryption_in_transit|audit_logging|data_retention" doc:"controls that are checked"`
	DataRetentionDays int      `mapstructure:"data_retention_days" doc:"days data is kept (0: no retention period)"`
}

// Default Redis ports, when redis.port is 0.
const (
	DefaultRedisPort    = 6379
	DefaultSentinelPort = 26379
)

// Addresses are the servers the Redis configuration names: redis.host with
// redis.port (6379, or 26379 for Sentinel, when 0), then redis.addrs,
// without duplicates. Standalone mode needs exactly one.
func (r RedisConfig) Addresses() []string {
	var out []string
	if r.Host != "" {
		port := r.Port
		if port == 0 {
			port = DefaultRedisPort
			if r.Mode == RedisSentinel {
				port = DefaultSentinelPort
			}
		}
		out = append(out, net.JoinHostPort(r.Host, strconv.Itoa(port)))
	}
	for _, a := range r.Addrs {
		if a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}
