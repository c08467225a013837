package config

import (
	"strings"
	"time"
)

// DisplayValue makes a configuration value safe and plain for output.
func DisplayValue(v any) any {
	switch v := v.(type) {
	case Secret:
		return v.Redacted()
	case time.Duration:
		return v.String()
	case []string:
		if v == nil {
			return []string{}
		}
		return v
	default:
		return v
	}
}

// RedactedMap returns the configuration as nested maps in the shape of a
// config file, each value as [DisplayValue] shows it: secrets redacted.
func (c *Config) RedactedMap() map[string]any {
	out := map[string]any{}
	for _, f := range Fields() {
		PutNested(out, f.Key, DisplayValue(c.Value(f)))
	}
	return out
}

// PutNested sets the value of a dotted key ("api.tls.cert_file") in m as a
// config file nests it, making the maps on the way.
func PutNested(m map[string]any, dottedKey string, v any) {
	parts := strings.Split(dottedKey, ".")
	for _, p := range parts[:len(parts)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	m[parts[len(parts)-1]] = v
}
