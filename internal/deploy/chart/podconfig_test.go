package chart_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/services"
)

// What a pod sees — the ConfigMap's config.yaml at TARS_CONFIG and the
// container's environment — loads through tarsctl's own configuration
// loader without a problem, for every profile, with and without Vault; and
// the daemons listen where the probes and Services point.
func TestPodConfigurationLoads(t *testing.T) {
	t.Parallel()
	for _, p := range profiles {
		for _, vault := range []bool{false, true} {
			r := render(t, profileVals(t, p, map[string]any{"vault": map[string]any{"enabled": vault}}))
			file := str(r.must(t, "ConfigMap", "tars-config"), "data", "config.yaml")
			for _, d := range r.ofKind("Deployment") {
				c := container(t, d.Doc)
				env := map[string]string{}
				for _, e := range get(c, "env").([]any) {
					env[str(e, "name")] = str(e, "value")
				}
				res, err := config.Load(config.LoadOptions{
					Getenv: func(k string) string { return env[k] },
					ReadFile: func(path string) ([]byte, error) {
						if path != env["TARS_CONFIG"] {
							return nil, errors.New("no such file in the pod: " + path)
						}
						return []byte(file), nil
					},
				})
				if err != nil {
					t.Errorf("%s vault=%v %s: the pod's configuration does not load: %v", p, vault, d.name(), err)
					continue
				}
				cfg := res.Config
				if res.Profile != p || res.ConfigFile != "/etc/tars/config.yaml" || cfg.Environment != p {
					t.Errorf("%s %s: profile %s file %s environment %s", p, d.name(), res.Profile, res.ConfigFile, cfg.Environment)
				}
				spec, ok := services.Lookup(d.name())
				if !ok {
					t.Fatalf("%s is no daemon", d.name())
				}
				if got, want := float64(spec.Port(cfg)), num(c, "ports", 0, "containerPort"); got != want || cfg.API.Host != "0.0.0.0" {
					t.Errorf("%s %s listens on %s:%v, container port %v", p, d.name(), cfg.API.Host, got, want)
				}
				// Every secret the configuration names is a file the pod has.
				dir := "/run/secrets/tars/"
				if vault {
					dir = "/vault/secrets/"
				}
				for key, v := range map[string]string{
					"redis.password":       map[bool]string{true: string(cfg.Redis.Password)}[cfg.Redis.Enabled],
					"database.password":    map[bool]string{true: string(cfg.Database.Password)}[cfg.Database.Driver == config.DatabasePostgres],
					"auth.jwt_secret_file": map[bool]string{true: cfg.Auth.JWTSecretFile}[cfg.Auth.Enabled],
					"encryption.key_file":  map[bool]string{true: cfg.Encryption.KeyFile}[cfg.Encryption.Enabled],
					"signing.key_file":     map[bool]string{true: cfg.Signing.KeyFile}[cfg.Signing.Enabled],
				} {
					v = strings.TrimPrefix(v, "file:")
					if v != "" && !strings.HasPrefix(v, dir) {
						t.Errorf("%s vault=%v: %s = %s, not under %s", p, vault, key, v, dir)
					}
				}
				if cfg.Auth.Enabled && !strings.HasPrefix(cfg.Auth.JWTSecretFile, dir) {
					t.Errorf("%s vault=%v: auth enabled but jwt_secret_file %q", p, vault, cfg.Auth.JWTSecretFile)
				}
			}
		}
	}
}
