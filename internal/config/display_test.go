package config

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestRedactedMap(t *testing.T) {
	t.Parallel()
	c := &Config{}
	c.Auth.JWTSecret = "hunter2-literal"
	c.Redis.Password = "env:REDIS_PASSWORD"
	c.Auth.JWTExpiry = 900
	m := c.RedactedMap()
	auth, _ := m["auth"].(map[string]any)
	redis, _ := m["redis"].(map[string]any)
	if auth["jwt_secret"] != Redacted || redis["password"] != "env:REDIS_PASSWORD" || auth["jwt_expiry"] != 900 {
		t.Errorf("auth %v, redis password %v", auth, redis["password"])
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "hunter2") {
		t.Error("the literal secret is in the map")
	}
	if got := DisplayValue(90 * time.Second); got != "1m30s" {
		t.Errorf("DisplayValue(duration) = %v", got)
	}
	if got, ok := DisplayValue([]string(nil)).([]string); !ok || got == nil {
		t.Errorf("DisplayValue(nil list) = %#v, want an empty list", got)
	}
}
