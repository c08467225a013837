package chart

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/services"
)

// ValuesKey returns the chart's values key for a daemon: its name in
// lowerCamelCase ("dashboard-api" → "dashboardApi"), where its replicas,
// enabled flag, port, resources and autoscaling overrides live.
func ValuesKey(service string) string {
	parts := strings.Split(service, "-")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// profileShape is what a profile implies beyond its configuration keys:
// how many replicas, whether to autoscale and expose an Ingress, how big
// the pods are.
type profileShape struct {
	replicas    int
	autoscale   bool
	ingress     bool
	issuer      string // cert-manager ClusterIssuer
	large       bool   // the runbook's production resources
	redisSecret bool   // the profile's Redis needs a password
	image       string // image repository override ("" keeps the chart's)
}

var shapes = map[string]profileShape{
	"local":      {replicas: 1},
	"docker":     {replicas: 1},
	"staging":    {replicas: 2, autoscale: true, ingress: true, issuer: "letsencrypt-staging", large: true, redisSecret: true},
	"production": {replicas: 3, autoscale: true, ingress: true, issuer: "letsencrypt-prod", large: true, redisSecret: true},
	// Air-gapped sites cannot reach an ACME server: certificates come from
	// a local CA issuer, images from the site's registry.
	"airgap": {replicas: 2, autoscale: true, ingress: true, issuer: "tars-ca", large: true, redisSecret: true, image: "registry.airgap.local/tars"},
}

// ProfileValues returns the chart values a tarsctl profile implies, to be
// layered over the chart's values.yaml (whose defaults are production's):
//
//   - profile: the profile the pods run (TARS_PROFILE);
//   - config: every configuration key of the profile, as `tarsctl serve`
//     resolves it, which the chart writes into the tars-config ConfigMap
//     (literal secrets are left out; the chart points the secret keys at
//     the mounted Secrets);
//   - replicaCount, autoscaling, podDisruptionBudget, ingress (host from
//     the profile's public CORS origin, cert-manager issuer, rate limit
//     from rate_limiting.requests_per_minute) and resources;
//   - the port (and peer port) of each daemon of the service catalog,
//     under its values key (dashboardApi.port);
//   - for airgap, the local registry's image repository.
//
// Every profile sets the same keys, so the result can be layered over
// values.yaml without production's settings showing through.
func ProfileValues(profile string) (map[string]any, error) {
	shape, ok := shapes[profile]
	if !ok || !config.IsProfile(profile) {
		return nil, fmt.Errorf("unknown profile %q; known profiles: %s", profile, strings.Join(config.ProfileNames(), ", "))
	}
	cfg, err := loadProfile(profile)
	if err != nil {
		return nil, err
	}

	vals := map[string]any{
		"profile":      profile,
		"config":       configValues(cfg),
		"replicaCount": shape.replicas,
		"autoscaling": map[string]any{
			"enabled":                           shape.autoscale,
			"minReplicas":                       2,
			"maxReplicas":                       10,
			"targetCPUUtilizationPercentage":    70,
			"targetMemoryUtilizationPercentage": 80,
		},
		"podDisruptionBudget": map[string]any{"enabled": shape.replicas > 1 || shape.autoscale},
		"resources":           resources(shape.large),
		"ingress":             ingressValues(cfg, shape),
		"secrets":             map[string]any{"redis": map[string]any{"enabled": shape.redisSecret}},
	}
	for _, s := range services.All() {
		v := map[string]any{"port": s.Port(cfg)}
		if p := s.PeerPortIn(cfg); p != 0 {
			v["peerPort"] = p
		}
		vals[ValuesKey(s.Name)] = v
	}
	if shape.image != "" {
		vals["global"] = map[string]any{"image": map[string]any{"repository": shape.image}}
		vals["airgap"] = map[string]any{"enabled": true, "localRegistry": strings.SplitN(shape.image, "/", 2)[0]}
	}
	return vals, nil
}

// loadProfile resolves a profile as a pod running it would, without this
// process's environment or config file: ${VAR} references are left unset
// (only secrets use them, and those come from the mounted Secrets).
func loadProfile(profile string) (*config.Config, error) {
	res, err := config.Load(config.LoadOptions{
		Profile:  profile,
		Getenv:   func(string) string { return "" },
		ReadFile: func(string) ([]byte, error) { return nil, errors.New("no config file") },
	})
	if res == nil || res.Config == nil {
		return nil, fmt.Errorf("load profile %q: %w", profile, err)
	}
	for _, p := range res.Problems {
		if f, ok := config.LookupField(p.Key); ok && f.Kind == config.KindSecret {
			continue // an unset ${VAR} in a secret: the chart supplies it
		}
		return nil, fmt.Errorf("load profile %q: %w", profile, err)
	}
	return res.Config, nil
}

// configValues nests the configuration into the ConfigMap's YAML shape.
// Literal secrets become "": the chart never writes a secret into a
// ConfigMap. References (file:PATH, env:NAME) hold no secret and stay.
func configValues(cfg *config.Config) map[string]any {
	out := map[string]any{}
	for _, f := range config.Fields() {
		var v any
		switch x := cfg.Value(f).(type) {
		case config.Secret:
			// Empty, so that a secret production's values.yaml names does
			// not show through under another profile.
			v = ""
			if x.IsReference() {
				v = string(x)
			}
		case time.Duration:
			v = x.String()
		case []string:
			l := make([]any, len(x))
			for i, s := range x {
				l[i] = s
			}
			v = l
		case int:
			v = int64(x)
		default:
			v = x
		}
		config.PutNested(out, f.Key, v)
	}
	return out
}

func resources(large bool) map[string]any {
	if large { // the runbook's values-prod.yaml
		return map[string]any{
			"requests": map[string]any{"cpu": "500m", "memory": "1Gi"},
			"limits":   map[string]any{"cpu": "2000m", "memory": "4Gi"},
		}
	}
	return map[string]any{
		"requests": map[string]any{"cpu": "100m", "memory": "128Mi"},
		"limits":   map[string]any{"cpu": "1000m", "memory": "512Mi"},
	}
}

// publicHost is the host of the profile's first https CORS origin: the
// address users reach the dashboard on.
func publicHost(cfg *config.Config) string {
	for _, o := range cfg.API.CORSOrigins {
		u, err := url.Parse(o)
		if err == nil && u.Scheme == "https" && u.Hostname() != "" {
			return u.Hostname()
		}
	}
	return ""
}

func ingressValues(cfg *config.Config, shape profileShape) map[string]any {
	host := publicHost(cfg)
	enabled := shape.ingress && host != ""
	if host == "" {
		host = "tars.local"
	}
	annotations := map[string]any{}
	if shape.issuer != "" {
		annotations["cert-manager.io/cluster-issuer"] = shape.issuer
	}
	if cfg.RateLimiting.Enabled && cfg.RateLimiting.RequestsPerMinute > 0 {
		annotations["nginx.ingress.kubernetes.io/limit-rpm"] = fmt.Sprint(cfg.RateLimiting.RequestsPerMinute)
	}
	return map[string]any{
		"enabled":     enabled,
		"className":   "nginx",
		"annotations": annotations,
		"hosts": []any{map[string]any{
			"host":  host,
			"paths": []any{map[string]any{"path": "/", "pathType": "Prefix", "service": services.DashboardAPI}},
		}},
		"tls": []any{map[string]any{"secretName": "tars-tls", "hosts": []any{host}}},
	}
}
