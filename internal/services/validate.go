package services

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// The patterns are compiled when a catalog is validated (by tests and
// TestOnlyRegister), not at the start of every tarsctl command.
var (
	// A daemon's name is a Kubernetes object name (DNS-1123 label) with
	// room for the chart's suffixes (-data, -headless) and a name prefix.
	nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$`) })
	// A configuration key is a viper key segment, an environment variable
	// part.
	configKeyRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9_]*$`) })
)

// reserved are names that are not the daemons' in every place a daemon's
// name goes: the Compose file's stores.
var reserved = []string{"redis", "postgres"}

// Validate checks a catalog and returns every problem, joined: names and
// aliases valid and unique, ports valid and unique, configuration keys,
// log files and Compose names unique, known workload kinds and servers,
// dependencies that exist and come earlier in the list (which makes the
// list a dependency order and rules out cycles).
func Validate(entries []Entry) error {
	var errs []error
	bad := func(e Entry, format string, args ...any) {
		errs = append(errs, fmt.Errorf("service %q: %s", e.Name, fmt.Sprintf(format, args...)))
	}
	names := map[string]string{}    // name or alias → the entry that has it
	ports := map[int]string{}       // port → "NAME api" / "NAME peer"
	keys := map[string]string{}     // config key → entry
	logs := map[string]string{}     // log file name → entry
	composes := map[string]string{} // Compose service → entry
	claim := func(e Entry, m map[string]string, what, v string) {
		if other, ok := m[v]; ok {
			bad(e, "%s %q is also %s's", what, v, other)
			return
		}
		m[v] = e.Name
	}
	for i, e := range entries {
		if !nameRE().MatchString(e.Name) {
			bad(e, "the name must be lower-case letters, digits and dashes, 1 to 32 characters, starting with a letter")
		}
		if slices.Contains(reserved, e.Name) {
			bad(e, "the name is reserved for a store of the Compose file")
		}
		claim(e, names, "name", e.Name)
		for _, a := range e.Aliases {
			if !nameRE().MatchString(a) {
				bad(e, "alias %q must be lower-case letters, digits and dashes", a)
			}
			claim(e, names, "alias", a)
		}
		for _, p := range []struct {
			port int
			what string
		}{{e.APIPort, "API port"}, {e.PeerPort, "peer port"}} {
			switch {
			case p.port == 0 && p.what == "peer port":
			case p.port < 1 || p.port > 65535:
				bad(e, "%s %d is not between 1 and 65535", p.what, p.port)
			default:
				if other, ok := ports[p.port]; ok {
					bad(e, "%s %d is also %s", p.what, p.port, other)
				} else {
					ports[p.port] = e.Name + "'s " + p.what
				}
			}
		}
		if e.ConfigKey != "" {
			if !configKeyRE().MatchString(e.ConfigKey) {
				bad(e, "configuration key %q must be lower-case letters, digits and underscores", e.ConfigKey)
			}
			claim(e, keys, "configuration key", e.ConfigKey)
		}
		switch e.Kind {
		case Deployment:
			if e.PeerPort != 0 {
				bad(e, "a peer port needs kind StatefulSet: peers find each other by stable pod names")
			}
		case StatefulSet:
		default:
			bad(e, "kind %q is not %s or %s", e.Kind, Deployment, StatefulSet)
		}
		for _, s := range e.Health.Needs {
			if s != ServerRedis && s != ServerDatabase {
				bad(e, "needs unknown server %q (known: %s, %s)", s, ServerRedis, ServerDatabase)
			}
		}
		for j, c := range e.Health.Checks {
			if c == "" || slices.Contains(e.Health.Checks[:j], c) {
				bad(e, "health check %q is empty or listed twice", c)
			}
		}
		claim(e, logs, "log file", strings.TrimSuffix(e.LogFile(""), ".log"))
		claim(e, composes, "Compose service", e.ComposeService())
		if s := e.Compose.Service; s != "" && (!nameRE().MatchString(s) || slices.Contains(reserved, s)) {
			bad(e, "Compose service %q must be a valid name other than %s", s, strings.Join(reserved, ", "))
		}
		for _, d := range e.DependsOn {
			j := slices.IndexFunc(entries, func(x Entry) bool { return x.Name == d })
			switch {
			case d == e.Name:
				bad(e, "depends on itself")
			case j < 0:
				bad(e, "depends on %q, which is not in the catalog", d)
			case j > i:
				// Listing what it needs first is what makes the catalog a
				// start order; a cycle cannot be listed that way.
				bad(e, "depends on %q, which comes after it: list the catalog in dependency order (is there a cycle?)", d)
			}
		}
	}
	return errors.Join(errs...)
}
