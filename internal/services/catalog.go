package services

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Daemon names.
const (
	DashboardAPI       = "dashboard-api"
	OrchestrationAgent = "orchestration-agent"
	HyperSync          = "hypersync"
)

// WorkloadKind is the Kubernetes workload a daemon runs as.
type WorkloadKind string

// Workload kinds.
const (
	// Deployment: interchangeable replicas behind a Service.
	Deployment WorkloadKind = "Deployment"
	// StatefulSet: replicas with stable names and storage, found by their
	// peers through a headless Service (a consensus group).
	StatefulSet WorkloadKind = "StatefulSet"
)

// Server is an external server a daemon uses.
type Server string

// External servers.
const (
	// ServerRedis is the shared Redis (redis.enabled).
	ServerRedis Server = "redis"
	// ServerDatabase is the PostgreSQL database (database.driver postgres
	// or database.url).
	ServerDatabase Server = "database"
)

// Health says what a daemon's GET /health reports and what it needs.
type Health struct {
	// Checks are the names under "checks" in its /health when every
	// server in Needs is configured: the runbook's redis, database and
	// disk_space, and checks of its own (a journal, checkpoints).
	Checks []string
	// Needs are the external servers it connects to when they are
	// configured: Compose starts it after them, and only these daemons
	// get their connection settings and secrets.
	Needs []Server
}

// Compose is how a daemon runs in the Docker Compose stack.
type Compose struct {
	// Service is its Compose service name; empty: the daemon's name. The
	// runbook names the orchestrator's "multi-agent".
	Service string
	// Volumes are mounts beyond the shared data and log volumes, as
	// "NAME:PATH"; named volumes are declared in the file.
	Volumes []string
	// Env is environment of its container beyond what every daemon gets.
	Env map[string]string
	// StartPeriod is its health check's grace period after start, in
	// Compose's duration syntax; empty: 10s.
	StartPeriod string
}

// Entry describes one daemon.
type Entry struct {
	// Name is what `tarsctl serve NAME` runs: also its pidfile, its
	// Kubernetes workload and Service.
	Name string
	// Aliases are other names the commands accept for it.
	Aliases []string
	// Summary says in a few words what it does.
	Summary string
	// APIPort is its API port by default; PeerPort, when not 0, the port
	// its peers reach it on. The configuration's values win.
	APIPort  int
	PeerPort int
	// ConfigKey names its configuration section, services.CONFIGKEY (port,
	// url, and peer_port when PeerPort is set). Every daemon tarsctl
	// serves has one; only test entries go without.
	ConfigKey string
	// PortKey is the configuration key of its port when it is not
	// services.CONFIGKEY.port (dashboard-api listens on api.port).
	PortKey string
	// Kind is its Kubernetes workload; Autoscale gives it a
	// HorizontalPodAutoscaler when the chart's autoscaling is on.
	Kind      WorkloadKind
	Autoscale bool
	// DependsOn are the daemons started before it and stopped after it.
	DependsOn []string
	Health    Health
	// LogName is the base name of its log file in LOG_DIR when it is not
	// its name: the runbook's names, which its grep commands use
	// (multi-agent.log for the orchestrator).
	LogName string
	Compose Compose
}

// builtin is the catalog, in dependency order: each entry comes after what
// it depends on.
var builtin = []Entry{
	{
		Name:      DashboardAPI,
		Summary:   "login, JWT and RBAC, rate limiting, the agents and compliance API",
		APIPort:   3001,
		ConfigKey: "dashboard_api",
		PortKey:   "api.port",
		Kind:      Deployment,
		Autoscale: true,
		Health: Health{
			Checks: []string{"redis", "database", "disk_space"},
			Needs:  []Server{ServerRedis, ServerDatabase},
		},
	},
	{
		Name:      OrchestrationAgent,
		Summary:   "trains the RL agents and keeps their checkpoints",
		APIPort:   8094,
		ConfigKey: "orchestration_agent",
		Kind:      Deployment,
		Autoscale: true,
		DependsOn: []string{DashboardAPI},
		Health: Health{
			Checks: []string{"disk_space", "redis", "checkpoints"},
			Needs:  []Server{ServerRedis},
		},
		LogName: "multi-agent",
		Compose: Compose{Service: "multi-agent"},
	},
	{
		Name:      HyperSync,
		Summary:   "pushes accepted hyperparameters to the running agents",
		APIPort:   8098,
		ConfigKey: "hypersync",
		Kind:      Deployment,
		Autoscale: true,
		DependsOn: []string{OrchestrationAgent},
		Health: Health{
			Checks: []string{"disk_space", "redis", "journal"},
			Needs:  []Server{ServerRedis},
		},
	},
}

var (
	mu      sync.RWMutex
	entries = builtin
)

// All returns the catalog in dependency order: each entry comes after the
// ones it depends on.
func All() []Entry {
	mu.RLock()
	defer mu.RUnlock()
	return slices.Clone(entries)
}

// Lookup returns the entry of a daemon by its name or one of its aliases.
func Lookup(name string) (Entry, bool) {
	for _, e := range All() {
		if e.Name == name || slices.Contains(e.Aliases, name) {
			return e, true
		}
	}
	return Entry{}, false
}

// Names lists the daemons in dependency order.
func Names() []string {
	all := All()
	out := make([]string, len(all))
	for i, e := range all {
		out[i] = e.Name
	}
	return out
}

// Canonical returns the name of the daemon called name (by its name or an
// alias), or name itself when no daemon is: for commands that also take
// names outside the catalog (a Kubernetes Deployment).
func Canonical(name string) string {
	if e, ok := Lookup(name); ok {
		return e.Name
	}
	return name
}

// UnknownError is the error of [Resolve] for a name that is no daemon's.
type UnknownError struct {
	Name  string
	Known []string // the daemons' names, in dependency order
}

func (e *UnknownError) Error() string {
	return fmt.Sprintf("unknown service %q: expected one of %s", e.Name, strings.Join(e.Known, ", "))
}

// Resolve returns the entry of a daemon by name or alias, or an
// [*UnknownError] listing the daemons.
func Resolve(name string) (Entry, error) {
	if e, ok := Lookup(name); ok {
		return e, nil
	}
	return Entry{}, &UnknownError{Name: name, Known: Names()}
}
