package config

// Config is tarsctl's typed configuration: the keys of the T.A.R.S. profile
// files. Code reads it through these fields, never through string lookups.
//
// Struct tags drive the schema ([Fields]): `mapstructure` names the key,
// `enum` lists the allowed values, and `doc` is shown by `tarsctl config
// show` and written into docs/configuration.md.
type Config struct {
	Environment  string           `mapstructure:"environment" doc:"deployment environment name"`
	LogLevel     string           `mapstructure:"log_level" enum:"DEBUG|INFO|WARNING|ERROR" doc:"daemon log level"`
	LogFormat    string           `mapstructure:"log_format" enum:"text|json" doc:"daemon log format"`
	API          APIConfig        `mapstructure:"api"`
	Redis        RedisConfig      `mapstructure:"redis"`
	Database     DatabaseConfig   `mapstructure:"database"`
	Auth         AuthConfig       `mapstructure:"auth"`
	RateLimiting RateLimitConfig  `mapstructure:"rate_limiting"`
	Encryption   EncryptionConfig `mapstructure:"encryption"`
	Signing      SigningConfig    `mapstructure:"signing"`
	Compliance   ComplianceConfig `mapstructure:"compliance"`
}

// APIConfig is the dashboard API listener.
type APIConfig struct {
	Host        string   `mapstructure:"host" doc:"address the API listens on"`
	Port        int      `mapstructure:"port" doc:"API port"`
	Workers     int      `mapstructure:"workers" doc:"request-handling workers"`
	CORSOrigins []string `mapstructure:"cors_origins" doc:"origins allowed by CORS"`
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
}

// AuthConfig is authentication and authorisation for the dashboard API.
type AuthConfig struct {
	Enabled       bool   `mapstructure:"enabled" doc:"require a JWT on API requests"`
	RBAC          bool   `mapstructure:"rbac" doc:"enforce roles (admin, operator, viewer)"`
	RequireMFA    bool   `mapstructure:"require_mfa" doc:"require a second factor at login"`
	JWTExpiry     int    `mapstructure:"jwt_expiry" doc:"access token lifetime, seconds"`
	RefreshExpiry int    `mapstructure:"refresh_expiry" doc:"refresh token lifetime, seconds"`
	JWTSecret     Secret `mapstructure:"jwt_secret" doc:"HMAC key for JWTs"`
}

// RateLimitConfig is per-client request rate limiting.
type RateLimitConfig struct {
	Enabled           bool `mapstructure:"enabled" doc:"limit request rates"`
	RequestsPerMinute int  `mapstructure:"requests_per_minute" doc:"requests allowed per client per minute"`
}

// EncryptionConfig is encryption of data at rest.
type EncryptionConfig struct {
	Enabled   bool   `mapstructure:"enabled" doc:"encrypt data at rest"`
	Algorithm string `mapstructure:"algorithm" enum:"aes-256-gcm" doc:"encryption algorithm"`
	KeyFile   string `mapstructure:"key_file" doc:"AES-256 key file"`
}

// SigningConfig is signing of artifacts and provenance.
type SigningConfig struct {
	Enabled   bool   `mapstructure:"enabled" doc:"sign artifacts"`
	Algorithm string `mapstructure:"algorithm" enum:"rsa-pss" doc:"signature algorithm"`
	KeyFile   string `mapstructure:"key_file" doc:"RSA private key file (PEM)"`
}

// ComplianceConfig is compliance-control enforcement.
type ComplianceConfig struct {
	EnforcementMode string   `mapstructure:"enforcement_mode" enum:"warn|enforce" doc:"warn about or enforce failed controls"`
	Controls        []string `mapstructure:"controls" enum:"encryption_at_rest|encryption_in_transit|audit_logging|data_retention" doc:"controls that are checked"`
}
