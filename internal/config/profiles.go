package config

import (
	"embed"
	"slices"
	"time"
)

//go:embed profiles/*.yaml
var profileFS embed.FS

// DefaultProfile is used when neither --profile nor TARS_PROFILE names one.
const DefaultProfile = "local"

// Profile is one embedded environment profile.
type Profile struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Profiles lists the embedded profiles in the order of the runbook's
// configuration matrix.
var Profiles = []Profile{
	{"local", "one machine, nothing to install: embedded stores, no encryption, 100 req/min"},
	{"docker", "Docker Compose stacks: Redis and PostgreSQL containers, JWT, 60 req/min"},
	{"staging", "Kubernetes staging: Redis Sentinel, JWT + RBAC, encryption and signing, 60 req/min"},
	{"production", "Kubernetes production: Redis Cluster, JWT + RBAC + MFA, all controls enforced, 30 req/min"},
	{"airgap", "air-gapped sites: standalone Redis, JWT + RBAC, encryption and signing, 30 req/min"},
}

// ProfileNames returns the names of the embedded profiles.
func ProfileNames() []string {
	names := make([]string, len(Profiles))
	for i, p := range Profiles {
		names[i] = p.Name
	}
	return names
}

// IsProfile reports whether name is an embedded profile.
func IsProfile(name string) bool { return slices.Contains(ProfileNames(), name) }

// ProfileYAML returns the embedded YAML of a profile.
func ProfileYAML(name string) ([]byte, error) {
	return profileFS.ReadFile("profiles/" + name + ".yaml")
}

// defaults are the built-in values under every profile: what a key is when
// no profile, file, environment variable or flag sets it.
func defaults() map[string]any {
	return map[string]any{
		"environment":                       "local",
		"log_level":                         "INFO",
		"log_format":                        "text",
		"api.host":                          "127.0.0.1",
		"api.port":                          3001,
		"api.workers":                       1,
		"api.cors_origins":                  []string{},
		"api.read_timeout":                  30 * time.Second,
		"api.write_timeout":                 60 * time.Second,
		"api.idle_timeout":                  120 * time.Second,
		"api.drain_timeout":                 30 * time.Second,
		"api.tls.cert_file":                 "",
		"api.tls.key_file":                  "",
		"api.tls.client_ca_file":            "",
		"paths.home":                        ".tars",
		"paths.data_dir":                    "",
		"paths.log_dir":                     "",
		"paths.run_dir":                     "",
		"paths.secrets_dir":                 "",
		"redis.enabled":                     false,
		"redis.mode":                        RedisStandalone,
		"redis.host":                        "localhost",
		"redis.port":                        6379,
		"redis.addrs":                       []string{},
		"redis.db":                          0,
		"redis.password":                    Secret(""),
		"redis.sentinel_master":             "",
		"database.driver":                   DatabaseSQLite,
		"database.path":                     "tars.db",
		"database.host":                     "localhost",
		"database.port":                     5432,
		"database.name":                     "tars",
		"database.user":                     "tars",
		"database.password":                 Secret(""),
		"database.sslmode":                  "prefer",
		"database.url":                      Secret(""),
		"auth.enabled":                      false,
		"auth.rbac":                         false,
		"auth.require_mfa":                  false,
		"auth.jwt_expiry":                   3600,
		"auth.refresh_expiry":               604800,
		"auth.jwt_secret":                   Secret(""),
		"auth.jwt_secret_file":              "",
		"audit.enabled":                     true,
		"services.dashboard_api.port":       3001,
		"services.dashboard_api.url":        "",
		"services.orchestration_agent.port": 8094,
		"services.orchestration_agent.url":  "",
		"services.hypersync.port":           8098,
		"services.hypersync.url":            "",
		"audit.file":                        "",
		"rate_limiting.enabled":             true,
		"rate_limiting.requests_per_minute": 100,
		"rate_limiting.global_requests_per_minute": 0,
		"rate_limiting.login_requests_per_minute":  10,
		"encryption.enabled":                       false,
		"encryption.algorithm":                     "aes-256-gcm",
		"encryption.key_file":                      "",
		"encryption.old_key_files":                 []string{},
		"signing.enabled":                          false,
		"signing.algorithm":                        "rsa-pss",
		"signing.key_file":                         "",
		"signing.old_key_file":                     "",
		"signing.verify_keys":                      []string{},
		"compliance.enforcement_mode":              "warn",
		"compliance.controls":                      []string{},

		// Redis ACL user and connection pool.
		"redis.username":          "",
		"redis.pool_size":         0,
		"redis.conn_max_lifetime": time.Duration(0),

		// TLS to Redis.
		"redis.tls.enabled":     false,
		"redis.tls.ca_file":     "",
		"redis.tls.cert_file":   "",
		"redis.tls.key_file":    "",
		"redis.tls.server_name": "",
	}
}
