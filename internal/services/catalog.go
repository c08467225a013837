// Package services lists the T.A.R.S. daemons tarsctl serves and
// supervises: their names, ports, and the order they depend on each other.
// Each daemon's code lives in a package of its own under this directory.
package services

import (
	"net"
	"path/filepath"
	"strconv"

	"github.com/tars-ops/tarsctl/internal/config"
)

// Daemon names.
const (
	DashboardAPI       = "dashboard-api"
	OrchestrationAgent = "orchestration-agent"
	HyperSync          = "hypersync"
)

// Spec describes one daemon.
type Spec struct {
	Name      string
	DependsOn []string // started before it, stopped after it
	// LogName is the base name of its log file in LOG_DIR: the runbook's
	// names, which its grep commands use (multi-agent.log for the
	// orchestrator).
	LogName string
	peer    func(*config.Config) config.PeerConfig
}

// LogFile is the daemon's log file under logDir.
func (s Spec) LogFile(logDir string) string {
	name := s.LogName
	if name == "" {
		name = s.Name
	}
	return filepath.Join(logDir, name+".log")
}

// Catalog lists the daemons in dependency order: each comes after what it
// needs.
var Catalog = []Spec{
	{Name: DashboardAPI, peer: func(c *config.Config) config.PeerConfig {
		p := c.Services.DashboardAPI
		p.Port = c.API.Port // api.port is the dashboard API's port
		return p
	}},
	{Name: OrchestrationAgent, DependsOn: []string{DashboardAPI}, LogName: "multi-agent", peer: func(c *config.Config) config.PeerConfig { return c.Services.OrchestrationAgent }},
	{Name: HyperSync, DependsOn: []string{OrchestrationAgent}, peer: func(c *config.Config) config.PeerConfig { return c.Services.HyperSync }},
}

// Lookup returns the spec of a daemon.
func Lookup(name string) (Spec, bool) {
	for _, s := range Catalog {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Names lists the daemons in dependency order.
func Names() []string {
	out := make([]string, len(Catalog))
	for i, s := range Catalog {
		out[i] = s.Name
	}
	return out
}

// Port is the port the daemon listens on.
func (s Spec) Port(c *config.Config) int { return s.peer(c).Port }

// Addr is the host:port the daemon listens on.
func (s Spec) Addr(c *config.Config) string {
	return net.JoinHostPort(c.API.Host, strconv.Itoa(s.Port(c)))
}

// URL is the base URL other daemons and tarsctl use to reach it.
func (s Spec) URL(c *config.Config) string {
	if u := s.peer(c).URL; u != "" {
		return u
	}
	host := c.API.Host
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	scheme := "http"
	if c.API.TLS.CertFile != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(s.Port(c)))
}
