package services

import (
	"net"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/tars-ops/tarsctl/internal/config"
)

// LogFile is the daemon's log file under logDir.
func (e Entry) LogFile(logDir string) string {
	name := e.LogName
	if name == "" {
		name = e.Name
	}
	return filepath.Join(logDir, name+".log")
}

// ComposeService is the daemon's service name in the Compose file.
func (e Entry) ComposeService() string {
	if e.Compose.Service != "" {
		return e.Compose.Service
	}
	return e.Name
}

// Uses reports whether the daemon connects to server when it is
// configured.
func (e Entry) Uses(server Server) bool { return slices.Contains(e.Health.Needs, server) }

// section is the daemon's configuration section, if the configuration
// has one.
func (e Entry) section(c *config.Config) (config.ServiceSection, bool) {
	if e.ConfigKey == "" {
		return config.ServiceSection{}, false
	}
	return c.Services.Section(e.ConfigKey)
}

// PortConfigKey is the configuration key that sets the daemon's port
// (what `tarsctl serve --port` overrides), or "" when the configuration
// has none and the catalog's port is used.
func (e Entry) PortConfigKey() string {
	if e.PortKey != "" {
		return e.PortKey
	}
	if e.ConfigKey == "" {
		return ""
	}
	key := "services." + e.ConfigKey + ".port"
	if _, ok := config.LookupField(key); !ok {
		return ""
	}
	return key
}

// Port is the port the daemon listens on: its configuration key's value,
// else the catalog's.
func (e Entry) Port(c *config.Config) int {
	if key := e.PortConfigKey(); key != "" {
		if f, ok := config.LookupField(key); ok {
			if p, ok := c.Value(f).(int); ok && p != 0 {
				return p
			}
		}
	}
	return e.APIPort
}

// PeerPortIn is the port the daemon's peers reach it on under c
// (services.KEY.peer_port, else the catalog's), or 0 when it has none.
func (e Entry) PeerPortIn(c *config.Config) int {
	if e.PeerPort == 0 {
		return 0
	}
	if s, ok := e.section(c); ok && s.HasPeerPort && s.PeerPort != 0 {
		return s.PeerPort
	}
	return e.PeerPort
}

// Addr is the host:port the daemon listens on.
func (e Entry) Addr(c *config.Config) string {
	return net.JoinHostPort(c.API.Host, strconv.Itoa(e.Port(c)))
}

// URL is the base URL other daemons and tarsctl use to reach it: its
// section's url, else derived from api.host (127.0.0.1 for a wildcard
// host), its port and whether api.tls is on.
func (e Entry) URL(c *config.Config) string {
	if s, ok := e.section(c); ok && s.URL != "" {
		return s.URL
	}
	host := c.API.Host
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	scheme := "http"
	if c.API.TLS.CertFile != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(e.Port(c)))
}
