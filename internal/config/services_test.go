package config

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

// Every struct field of ServicesConfig is a daemon's section that Section
// reads: a field Section could not see would be a daemon the catalog
// cannot find the port of.
func TestServiceSectionsAreEveryField(t *testing.T) {
	t.Parallel()
	var want []string
	typ := reflect.TypeFor[ServicesConfig]()
	for i := range typ.NumField() {
		want = append(want, typ.Field(i).Tag.Get("mapstructure"))
	}
	if got := ServiceSectionKeys(); !slices.Equal(got, want) {
		t.Fatalf("ServiceSectionKeys() = %v, want every field of ServicesConfig: %v", got, want)
	}
	if _, ok := (ServicesConfig{}).Section("no_such_daemon"); ok {
		t.Error("Section found a section that does not exist")
	}
}

// Section reads the values Load produced, by key, from every source: the
// defaults, a file and the TARS_SERVICES_* variables.
func TestServiceSectionValues(t *testing.T) {
	t.Parallel()
	const file = "/etc/tars.yaml"
	res, err := Load(LoadOptions{
		ConfigFile: file,
		ReadFile:   files(map[string]string{file: "services:\n  orchestration_agent:\n    url: http://orch.internal:8094\n"}),
		Getenv:     env("TARS_SERVICES_HYPERSYNC_PORT", "9098"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key  string
		want ServiceSection
	}{
		{"dashboard_api", ServiceSection{Key: "dashboard_api", Port: 3001}},
		{"orchestration_agent", ServiceSection{Key: "orchestration_agent", Port: 8094, URL: "http://orch.internal:8094"}},
		{"hypersync", ServiceSection{Key: "hypersync", Port: 9098}},
	} {
		got, ok := res.Config.Services.Section(tc.key)
		if !ok || got != tc.want {
			t.Errorf("Section(%q) = %+v, %v; want %+v", tc.key, got, ok, tc.want)
		}
	}
	if src := res.Sources["services.hypersync.port"]; src != "env TARS_SERVICES_HYPERSYNC_PORT" {
		t.Errorf("services.hypersync.port comes from %q", src)
	}
}

// A section with a peer_port (a daemon whose peers talk to it on a port
// of their own) is read too; structs without port and url are not
// sections.
func TestFindSectionsPeerPort(t *testing.T) {
	t.Parallel()
	type consensus struct {
		Port     int    `mapstructure:"port"`
		URL      string `mapstructure:"url"`
		PeerPort int    `mapstructure:"peer_port"`
	}
	type notASection struct {
		Enabled bool `mapstructure:"enabled"`
	}
	type parent struct {
		Plain    PeerConfig  `mapstructure:"plain"`
		Raft     consensus   `mapstructure:"raft"`
		Other    notASection `mapstructure:"other"`
		Untagged PeerConfig
	}
	secs := findSections(reflect.TypeFor[parent]())
	var keys []string
	for _, s := range secs {
		keys = append(keys, s.key)
	}
	if !slices.Equal(keys, []string{"plain", "raft"}) {
		t.Fatalf("sections %v, want [plain raft]", keys)
	}
	v := reflect.ValueOf(parent{Plain: PeerConfig{Port: 1}, Raft: consensus{Port: 8092, URL: "http://x", PeerPort: 8093}})
	if got := secs[0].read(v); got != (ServiceSection{Key: "plain", Port: 1}) {
		t.Errorf("plain = %+v", got)
	}
	if got := secs[1].read(v); got != (ServiceSection{Key: "raft", Port: 8092, URL: "http://x", PeerPort: 8093, HasPeerPort: true}) {
		t.Errorf("raft = %+v", got)
	}
}

// A bad port in any section is reported with its key.
func TestServiceSectionPortValidated(t *testing.T) {
	t.Parallel()
	for _, key := range ServiceSectionKeys() {
		_, err := Load(LoadOptions{Getenv: env(EnvVarFor("services."+key+".port"), "70000")})
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("%s: err = %v, want a validation error", key, err)
		}
		if !slices.ContainsFunc(ve.Problems, func(p Problem) bool { return p.Key == "services."+key+".port" }) {
			t.Errorf("%s: problems %v do not name services.%s.port", key, ve.Problems, key)
		}
	}
}
