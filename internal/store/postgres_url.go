package store

import (
	"net"
	"net/url"
	"strconv"

	"github.com/tars-ops/tarsctl/internal/config"
)

// PostgresURL builds a connection URL from the database settings.
func PostgresURL(d config.DatabaseConfig, password string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(d.User),
		Host:     net.JoinHostPort(d.Host, strconv.Itoa(d.Port)),
		Path:     "/" + d.Name,
		RawQuery: url.Values{"sslmode": {d.SSLMode}}.Encode(),
	}
	if password != "" {
		u.User = url.UserPassword(d.User, password)
	}
	return u.String()
}
