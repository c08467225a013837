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
		m := out
		parts := strings.Split(f.Key, ".")
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = DisplayValue(c.Value(f))
	}
	return out
}
