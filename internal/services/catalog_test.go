package services

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/config"
)

func TestCatalogIsValid(t *testing.T) {
	t.Parallel()
	if err := Validate(builtin); err != nil {
		t.Fatal(err)
	}
	if len(builtin) == 0 {
		t.Fatal("the catalog is empty")
	}
}

// Every daemon tarsctl serves has its configuration section, whose default
// port is the catalog's; and every section is a daemon's.
func TestCatalogMatchesConfiguration(t *testing.T) {
	t.Parallel()
	res, err := config.Load(config.LoadOptions{
		Getenv:   func(string) string { return "" },
		ReadFile: func(string) ([]byte, error) { return nil, fs.ErrNotExist },
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := res.Config
	var keys []string
	for _, e := range builtin {
		sec, ok := cfg.Services.Section(e.ConfigKey)
		if e.ConfigKey == "" || !ok {
			t.Errorf("%s: no configuration section services.%s: add a field to config.ServicesConfig and its defaults", e.Name, e.ConfigKey)
			continue
		}
		keys = append(keys, e.ConfigKey)
		if got := e.Port(cfg); got != e.APIPort {
			t.Errorf("%s: the configuration's default port (%s) is %d, the catalog's %d", e.Name, e.PortConfigKey(), got, e.APIPort)
		}
		if e.PortKey == "" && sec.Port != e.APIPort {
			t.Errorf("%s: services.%s.port defaults to %d, the catalog says %d", e.Name, e.ConfigKey, sec.Port, e.APIPort)
		}
		if (e.PeerPort != 0) != sec.HasPeerPort {
			t.Errorf("%s: peer port %d in the catalog, services.%s.peer_port present: %v", e.Name, e.PeerPort, e.ConfigKey, sec.HasPeerPort)
		} else if e.PeerPort != 0 && sec.PeerPort != e.PeerPort {
			t.Errorf("%s: services.%s.peer_port defaults to %d, the catalog says %d", e.Name, e.ConfigKey, sec.PeerPort, e.PeerPort)
		}
	}
	if want := config.ServiceSectionKeys(); !sameSet(keys, want) {
		t.Errorf("the catalog's configuration keys %v differ from the configuration's sections %v", keys, want)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func entry(name string, port int, deps ...string) Entry {
	return Entry{Name: name, APIPort: port, Kind: Deployment, DependsOn: deps}
}

// Validate finds each kind of mistake, naming the entry.
func TestValidateRejects(t *testing.T) {
	t.Parallel()
	a, b := entry("alpha", 9001), entry("beta", 9002, "alpha")
	with := func(e Entry, f func(*Entry)) Entry { f(&e); return e }
	for _, tc := range []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"duplicate name", []Entry{a, entry("alpha", 9002)}, `service "alpha": name "alpha" is also alpha's`},
		{"alias is a name", []Entry{a, with(b, func(e *Entry) { e.Aliases = []string{"alpha"} })}, `alias "alpha" is also alpha's`},
		{"bad name", []Entry{entry("Alpha_1", 9001)}, "lower-case letters"},
		{"reserved name", []Entry{entry("redis", 9001)}, "reserved"},
		{"duplicate port", []Entry{a, entry("beta", 9001)}, `API port 9001 is also alpha's API port`},
		{"peer port clashes", []Entry{a, with(b, func(e *Entry) { e.Kind, e.PeerPort = StatefulSet, 9001 })}, "peer port 9001 is also alpha's API port"},
		{"port out of range", []Entry{entry("alpha", 70000)}, "not between 1 and 65535"},
		{"no port", []Entry{entry("alpha", 0)}, "API port 0"},
		{"peer port on a Deployment", []Entry{with(a, func(e *Entry) { e.PeerPort = 9003 })}, "needs kind StatefulSet"},
		{"unknown kind", []Entry{with(a, func(e *Entry) { e.Kind = "DaemonSet" })}, `kind "DaemonSet"`},
		{"no kind", []Entry{with(a, func(e *Entry) { e.Kind = "" })}, `kind ""`},
		{"duplicate config key", []Entry{with(a, func(e *Entry) { e.ConfigKey = "x" }), with(b, func(e *Entry) { e.ConfigKey = "x" })}, `configuration key "x" is also alpha's`},
		{"bad config key", []Entry{with(a, func(e *Entry) { e.ConfigKey = "al-pha" })}, "underscores"},
		{"duplicate log file", []Entry{a, with(b, func(e *Entry) { e.LogName = "alpha" })}, `log file "alpha" is also alpha's`},
		{"duplicate Compose name", []Entry{a, with(b, func(e *Entry) { e.Compose.Service = "alpha" })}, `Compose service "alpha" is also alpha's`},
		{"unknown server", []Entry{with(a, func(e *Entry) { e.Health.Needs = []Server{"kafka"} })}, `unknown server "kafka"`},
		{"check twice", []Entry{with(a, func(e *Entry) { e.Health.Checks = []string{"redis", "redis"} })}, `health check "redis"`},
		{"unknown dependency", []Entry{entry("beta", 9002, "alpha")}, `depends on "alpha", which is not in the catalog`},
		{"self dependency", []Entry{entry("alpha", 9001, "alpha")}, "depends on itself"},
		{"dependency after", []Entry{b, a}, `depends on "alpha", which comes after it`},
		{"cycle", []Entry{entry("alpha", 9001, "beta"), entry("beta", 9002, "alpha")}, `"alpha": depends on "beta", which comes after it`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Validate(tc.entries)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if err := Validate([]Entry{a, b, with(entry("gamma", 9004), func(e *Entry) {
		e.Kind, e.PeerPort, e.Aliases, e.ConfigKey = StatefulSet, 9005, []string{"g"}, "gamma"
	})}); err != nil {
		t.Errorf("a good catalog: %v", err)
	}
}

// A registered entry is found by name and alias, listed last, and gone
// after the test; a bad one is refused.
func TestTestOnlyRegister(t *testing.T) {
	before := Names()
	t.Run("registered", func(t *testing.T) {
		TestOnlyRegister(t, Entry{Name: "synthetic-probe", Aliases: []string{"probe"}, APIPort: 18999, Kind: StatefulSet, PeerPort: 18998,
			DependsOn: []string{HyperSync}})
		if names := Names(); names[len(names)-1] != "synthetic-probe" || len(names) != len(before)+1 {
			t.Errorf("Names() = %v", names)
		}
		for _, n := range []string{"synthetic-probe", "probe"} {
			if e, err := Resolve(n); err != nil || e.Name != "synthetic-probe" {
				t.Errorf("Resolve(%q) = %v, %v", n, e.Name, err)
			}
		}
	})
	if got := Names(); !slices.Equal(got, before) {
		t.Errorf("after the test Names() = %v, want %v", got, before)
	}
	ft := &fakeTB{}
	TestOnlyRegister(ft, Entry{Name: "clash", APIPort: builtin[0].APIPort, Kind: Deployment})
	if !strings.Contains(ft.failed, "is also "+builtin[0].Name) || len(ft.cleanups) != 0 {
		t.Errorf("a clashing entry: failed %q, cleanups %d", ft.failed, len(ft.cleanups))
	}
	if got := Names(); !slices.Equal(got, before) {
		t.Errorf("a refused entry changed the catalog: %v", got)
	}
}

type fakeTB struct {
	failed   string
	cleanups []func()
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Fatalf(format string, a ...any) { f.failed = fmt.Sprintf(format, a...) }
func (f *fakeTB) Cleanup(fn func())              { f.cleanups = append(f.cleanups, fn) }

func TestResolveUnknown(t *testing.T) {
	t.Parallel()
	_, err := Resolve("dashbord-api")
	var ue *UnknownError
	if !errors.As(err, &ue) || ue.Name != "dashbord-api" || !strings.Contains(err.Error(), strings.Join(Names(), ", ")) {
		t.Fatalf("Resolve = %v", err)
	}
}

func TestEntryEndpoints(t *testing.T) {
	t.Parallel()
	res, err := config.Load(config.LoadOptions{Getenv: func(k string) string {
		return map[string]string{"TARS_API_PORT": "4001", "TARS_SERVICES_HYPERSYNC_URL": "https://hs.internal"}[k]
	}, ReadFile: func(string) ([]byte, error) { return nil, fs.ErrNotExist }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := res.Config
	api, _ := Lookup(DashboardAPI)
	orch, _ := Lookup(OrchestrationAgent)
	hs, _ := Lookup(HyperSync)
	for _, tc := range []struct{ got, want string }{
		{api.URL(cfg), "http://127.0.0.1:4001"}, // api.port is the dashboard API's
		{api.PortConfigKey(), "api.port"},
		{orch.URL(cfg), "http://127.0.0.1:8094"},
		{orch.PortConfigKey(), "services.orchestration_agent.port"},
		{orch.Addr(cfg), "127.0.0.1:8094"},
		{orch.LogFile("/var/log/tars"), "/var/log/tars/multi-agent.log"},
		{orch.ComposeService(), "multi-agent"},
		{hs.URL(cfg), "https://hs.internal"},
		{hs.LogFile("/l"), "/l/hypersync.log"},
		{hs.ComposeService(), "hypersync"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	// A test entry without a configuration section listens on the
	// catalog's ports.
	synth := Entry{Name: "synthetic", APIPort: 18990, PeerPort: 18991, Kind: StatefulSet}
	if synth.Port(cfg) != 18990 || synth.PeerPortIn(cfg) != 18991 || synth.PortConfigKey() != "" {
		t.Errorf("synthetic: port %d peer %d key %q", synth.Port(cfg), synth.PeerPortIn(cfg), synth.PortConfigKey())
	}
	if orch.PeerPortIn(cfg) != 0 {
		t.Errorf("orchestrator peer port %d", orch.PeerPortIn(cfg))
	}
	cfg.API.TLS.CertFile = "/tls.crt"
	if got := orch.URL(cfg); got != "https://127.0.0.1:8094" {
		t.Errorf("with TLS: %s", got)
	}
}

func TestCanonical(t *testing.T) {
	TestOnlyRegister(t, Entry{Name: "synthetic-front", Aliases: []string{"front"}, APIPort: 18931, Kind: Deployment})
	for in, want := range map[string]string{"front": "synthetic-front", "synthetic-front": "synthetic-front", HyperSync: HyperSync, "redis-master": "redis-master"} {
		if got := Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
}
