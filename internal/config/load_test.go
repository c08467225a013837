package config

import (
	"errors"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// env returns a getenv over a fixed map.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// files returns a ReadFile over fixed contents.
func files(m map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if s, ok := m[name]; ok {
			return []byte(s), nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
}

func TestLoadPrecedence(t *testing.T) {
	t.Parallel()
	const file = "/etc/tars.yaml"
	fileSetsPort := files(map[string]string{file: "api:\n  port: 4001\n"})

	tests := []struct {
		name       string
		opts       LoadOptions
		wantPort   int
		wantSource string
	}{
		{
			name:       "profile only",
			opts:       LoadOptions{Getenv: env()},
			wantPort:   3001,
			wantSource: "profile local",
		},
		{
			name:       "file over profile",
			opts:       LoadOptions{ConfigFile: file, ReadFile: fileSetsPort, Getenv: env()},
			wantPort:   4001,
			wantSource: "file " + file,
		},
		{
			name:       "env over file",
			opts:       LoadOptions{ConfigFile: file, ReadFile: fileSetsPort, Getenv: env("TARS_API_PORT", "4002")},
			wantPort:   4002,
			wantSource: "env TARS_API_PORT",
		},
		{
			name:       "flag over env",
			opts:       LoadOptions{ConfigFile: file, ReadFile: fileSetsPort, Getenv: env("TARS_API_PORT", "4002"), Set: []string{"api.port=4003"}},
			wantPort:   4003,
			wantSource: "flag --set",
		},
		{
			name:       "TARS_CONFIG names the file",
			opts:       LoadOptions{ReadFile: fileSetsPort, Getenv: env("TARS_CONFIG", file)},
			wantPort:   4001,
			wantSource: "file " + file,
		},
		{
			name:       "--config beats TARS_CONFIG",
			opts:       LoadOptions{ConfigFile: file, ReadFile: files(map[string]string{file: "api:\n  port: 4001\n", "/other.yaml": "api:\n  port: 4009\n"}), Getenv: env("TARS_CONFIG", "/other.yaml")},
			wantPort:   4001,
			wantSource: "file " + file,
		},
		{
			name:       "default XDG file is read when present",
			opts:       LoadOptions{ReadFile: files(map[string]string{"/xdg/tarsctl/config.yaml": "api:\n  port: 4005\n"}), Getenv: env("XDG_CONFIG_HOME", "/xdg")},
			wantPort:   4005,
			wantSource: "file /xdg/tarsctl/config.yaml",
		},
		{
			name:       "missing default file is fine",
			opts:       LoadOptions{ReadFile: files(nil), Getenv: env("HOME", "/home/op")},
			wantPort:   3001,
			wantSource: "profile local",
		},
		{
			name:       "${VAR} expanded in file",
			opts:       LoadOptions{ConfigFile: file, ReadFile: files(map[string]string{file: "api:\n  port: ${PORT}\n"}), Getenv: env("PORT", "4010")},
			wantPort:   4010,
			wantSource: "file " + file,
		},
		{
			name:       "${VAR:-default} falls back",
			opts:       LoadOptions{ConfigFile: file, ReadFile: files(map[string]string{file: "api:\n  port: ${PORT:-4011}\n"}), Getenv: env()},
			wantPort:   4011,
			wantSource: "file " + file,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := Load(tt.opts)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if res.Config.API.Port != tt.wantPort {
				t.Errorf("api.port = %d, want %d", res.Config.API.Port, tt.wantPort)
			}
			if got := res.Sources["api.port"]; got != tt.wantSource {
				t.Errorf("source of api.port = %q, want %q", got, tt.wantSource)
			}
		})
	}
}

func TestLoadBoundFlag(t *testing.T) {
	t.Parallel()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.Int("port", 0, "")
	fs.StringSlice("cors", nil, "")
	if err := fs.Parse([]string{"--port", "5000", "--cors", "https://a,https://b"}); err != nil {
		t.Fatal(err)
	}
	res, err := Load(LoadOptions{
		Getenv:   env("TARS_API_PORT", "4002"),
		Flags:    fs,
		FlagKeys: map[string]string{"api.port": "port", "api.cors_origins": "cors"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Config.API.Port != 5000 || res.Sources["api.port"] != "flag --port" {
		t.Errorf("api.port = %d from %q, want 5000 from flag --port", res.Config.API.Port, res.Sources["api.port"])
	}
	if want := []string{"https://a", "https://b"}; !slices.Equal(res.Config.API.CORSOrigins, want) {
		t.Errorf("cors_origins = %q, want %q", res.Config.API.CORSOrigins, want)
	}

	// An unset bound flag does not override the environment.
	fs2 := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs2.Int("port", 9999, "")
	res, err = Load(LoadOptions{Getenv: env("TARS_API_PORT", "4002"), Flags: fs2, FlagKeys: map[string]string{"api.port": "port"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Config.API.Port != 4002 {
		t.Errorf("api.port = %d, want 4002 from env (flag default must not win)", res.Config.API.Port)
	}
}

// TestProfilesMatchMatrix checks the embedded profiles against the
// runbook's configuration matrix (appendix B).
func TestProfilesMatchMatrix(t *testing.T) {
	t.Parallel()
	type row struct {
		encryption, signing bool
		rate                int
		auth, rbac, mfa     bool
		redisMode           string
		compliance          string
	}
	want := map[string]row{
		"local":      {false, false, 100, false, false, false, RedisStandalone, "warn"},
		"docker":     {false, false, 60, true, false, false, RedisStandalone, "warn"},
		"staging":    {true, true, 60, true, true, false, RedisSentinel, "enforce"},
		"production": {true, true, 30, true, true, true, RedisCluster, "enforce"},
		"airgap":     {true, true, 30, true, true, false, RedisStandalone, "enforce"},
	}
	if got := ProfileNames(); !slices.Equal(got, []string{"local", "docker", "staging", "production", "airgap"}) {
		t.Fatalf("profiles = %v", got)
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := Load(LoadOptions{Profile: name, Getenv: env("REDIS_PASSWORD", "x"), ReadFile: files(nil)})
			if err != nil {
				t.Fatalf("profile %s does not validate: %v", name, err)
			}
			c := res.Config
			got := row{c.Encryption.Enabled, c.Signing.Enabled, c.RateLimiting.RequestsPerMinute,
				c.Auth.Enabled, c.Auth.RBAC, c.Auth.RequireMFA, c.Redis.Mode, c.Compliance.EnforcementMode}
			if got != w {
				t.Errorf("profile %s = %+v, want %+v", name, got, w)
			}
			if c.Environment != name {
				t.Errorf("environment = %q, want %q", c.Environment, name)
			}
		})
	}
}

func TestLoadProfileFromEnv(t *testing.T) {
	t.Parallel()
	res, err := Load(LoadOptions{Getenv: env("TARS_PROFILE", "docker"), ReadFile: files(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Profile != "docker" || res.Config.RateLimiting.RequestsPerMinute != 60 {
		t.Errorf("profile %q rpm %d, want docker 60", res.Profile, res.Config.RateLimiting.RequestsPerMinute)
	}
	// --profile beats TARS_PROFILE.
	res, err = Load(LoadOptions{Profile: "local", Getenv: env("TARS_PROFILE", "docker"), ReadFile: files(nil)})
	if err != nil || res.Profile != "local" {
		t.Errorf("profile = %q (err %v), want local", res.Profile, err)
	}
}

func TestLoadUnknownProfile(t *testing.T) {
	t.Parallel()
	res, err := Load(LoadOptions{Profile: "prod", Getenv: env()})
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v, want *ValidationError", err)
	}
	if res.Config != nil {
		t.Error("an unknown profile must not produce a configuration")
	}
	if msg := err.Error(); !strings.Contains(msg, `unknown profile "prod"`) || !strings.Contains(msg, "local, docker, staging, production, airgap") {
		t.Errorf("message %q does not name the profile and list the known ones", msg)
	}
}

func TestLoadMissingExplicitFile(t *testing.T) {
	t.Parallel()
	_, err := Load(LoadOptions{ConfigFile: "/nope.yaml", Getenv: env(), ReadFile: files(nil)})
	if err == nil || !strings.Contains(err.Error(), "/nope.yaml: cannot read config file: no such file") {
		t.Fatalf("err = %v", err)
	}
}

func TestLegacySentinelKey(t *testing.T) {
	t.Parallel()
	// The runbook's production file says `sentinel: true`.
	file := "redis:\n  sentinel: true\n  sentinel_master: mymaster\n"
	res, err := Load(LoadOptions{ConfigFile: "f.yaml", ReadFile: files(map[string]string{"f.yaml": file}), Getenv: env()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Config.Redis.Mode != RedisSentinel {
		t.Errorf("redis.mode = %q, want sentinel", res.Config.Redis.Mode)
	}
}

func TestEnvLists(t *testing.T) {
	t.Parallel()
	res, err := Load(LoadOptions{Getenv: env("TARS_API_CORS_ORIGINS", "https://a, https://b"), ReadFile: files(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://a", "https://b"}; !reflect.DeepEqual(res.Config.API.CORSOrigins, want) {
		t.Errorf("cors_origins = %q, want %q", res.Config.API.CORSOrigins, want)
	}
}

func TestSecretsNeverInProblems(t *testing.T) {
	t.Parallel()
	// A secret with a bad ${ must not echo the rest of the value.
	file := "redis:\n  password: hunter2${\n"
	_, err := Load(LoadOptions{ConfigFile: "f.yaml", ReadFile: files(map[string]string{"f.yaml": file}), Getenv: env()})
	if err == nil {
		t.Fatal("want an error for an unterminated ${")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the secret: %v", err)
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	get := env("A", "alpha", "EMPTY", "")
	tests := []struct {
		in, want string
		missing  []string
		wantErr  bool
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "alpha"},
		{in: "x-${A}-y", want: "x-alpha-y"},
		{in: "${B:-fallback}", want: "fallback"},
		{in: "${EMPTY:-fallback}", want: "fallback"},
		{in: "$A stays", want: "$A stays"},
		{in: "$${A}", want: "${A}"},
		{in: "${B}", want: "", missing: []string{"B"}},
		{in: "${", wantErr: true},
		{in: "${1X}", wantErr: true},
	}
	for _, tt := range tests {
		got, missing, err := expand(tt.in, get)
		if (err != nil) != tt.wantErr {
			t.Errorf("expand(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && (got != tt.want || !slices.Equal(missing, tt.missing)) {
			t.Errorf("expand(%q) = %q, %v; want %q, %v", tt.in, got, missing, tt.want, tt.missing)
		}
	}
}

func TestSecretRedaction(t *testing.T) {
	t.Parallel()
	for in, want := range map[Secret]string{
		"":                    "",
		"hunter2":             Redacted,
		"file:/run/secrets/x": "file:/run/secrets/x",
		"env:REDIS_PASSWORD":  "env:REDIS_PASSWORD",
	} {
		if got := in.Redacted(); got != want {
			t.Errorf("Secret(%q).Redacted() = %q, want %q", string(in), got, want)
		}
	}
	var c Config
	c.Redis.Password = "hunter2"
	for _, s := range []string{fmtV(c), fmtSharpV(c)} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("formatting a Config leaks the secret: %s", s)
		}
	}
}

// A profile's ${VAR} with the variable unset is a problem only while no
// higher layer sets the key itself.
func TestUnsetVariableOverridden(t *testing.T) {
	t.Parallel()
	_, err := Load(LoadOptions{Profile: "production", Getenv: env(), ReadFile: files(nil)})
	if err == nil || !strings.Contains(err.Error(), "environment variable REDIS_PASSWORD is not set") {
		t.Fatalf("production without REDIS_PASSWORD: %v, want the unset-variable problem", err)
	}
	for name, opts := range map[string]LoadOptions{
		"config file": {Profile: "production", ConfigFile: "/etc/tars.yaml", Getenv: env(),
			ReadFile: files(map[string]string{"/etc/tars.yaml": "redis:\n  password: file:/run/secrets/tars/redis_password\n"})},
		"env":  {Profile: "production", Getenv: env("TARS_REDIS_PASSWORD", "file:/run/secrets/tars/redis_password"), ReadFile: files(nil)},
		"flag": {Profile: "production", Set: []string{"redis.password=file:/run/secrets/tars/redis_password"}, Getenv: env(), ReadFile: files(nil)},
	} {
		res, err := Load(opts)
		if err != nil {
			t.Errorf("%s sets redis.password: %v, want no problem", name, err)
			continue
		}
		if got := string(res.Config.Redis.Password); got != "file:/run/secrets/tars/redis_password" {
			t.Errorf("%s: redis.password = %q", name, got)
		}
	}
	// A file's own unset variable is still reported when nothing overrides it.
	_, err = Load(LoadOptions{Profile: "local", ConfigFile: "/etc/tars.yaml", Getenv: env(),
		ReadFile: files(map[string]string{"/etc/tars.yaml": "api:\n  host: ${TARS_TEST_HOST}\n"})})
	if err == nil || !strings.Contains(err.Error(), "TARS_TEST_HOST is not set") || !strings.Contains(err.Error(), "/etc/tars.yaml:2") {
		t.Errorf("unset variable in a file: %v", err)
	}
}

func TestRunbookSigningEnvNames(t *testing.T) {
	res, err := Load(LoadOptions{Getenv: env(
		"SIGNING_KEY_NEW", "/run/secrets/rsa-new/rsa_private.pem",
		"SIGNING_KEY_OLD", "/run/secrets/rsa-old/rsa_private.pem",
		"VERIFY_KEYS", "/run/secrets/rsa-new/rsa_public.pem,/run/secrets/rsa-old/rsa_public.pem",
		"TARS_SIGNING_OLD_KEY_FILE", "/wins.pem",
	)})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Config.Signing
	if s.KeyFile != "/run/secrets/rsa-new/rsa_private.pem" || s.OldKeyFile != "/wins.pem" ||
		len(s.VerifyKeys) != 2 || s.VerifyKeys[1] != "/run/secrets/rsa-old/rsa_public.pem" {
		t.Errorf("signing = %+v", s)
	}
	if got := res.Sources["signing.key_file"]; got != "env SIGNING_KEY_NEW" {
		t.Errorf("source = %q", got)
	}
}
