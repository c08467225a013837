package config

import (
	"reflect"
	"sync"
)

// ServiceSection is one daemon's section of the configuration,
// services.KEY, read through [ServicesConfig.Section].
type ServiceSection struct {
	Key  string // "hypersync": the section is services.hypersync
	Port int    // services.KEY.port
	URL  string // services.KEY.url
	// PeerPort is services.KEY.peer_port, the port the daemon's peers
	// reach it on; HasPeerPort says whether the section has that key.
	PeerPort    int
	HasPeerPort bool
}

// sectionField is where one section's values live in its parent struct.
type sectionField struct {
	key                 string
	field               int // index of the section in the parent struct
	port, url, peerPort int // indexes in the section struct; peerPort -1 when absent
}

func (s sectionField) read(parent reflect.Value) ServiceSection {
	v := parent.Field(s.field)
	out := ServiceSection{Key: s.key, Port: int(v.Field(s.port).Int()), URL: v.Field(s.url).String()}
	if s.peerPort >= 0 {
		out.PeerPort, out.HasPeerPort = int(v.Field(s.peerPort).Int()), true
	}
	return out
}

// findSections finds the daemons' sections of a struct type by their
// mapstructure tags. A struct field without an int `port` and a string
// `url` is not a daemon's section; the config tests check ServicesConfig
// has none.
func findSections(t reflect.Type) []sectionField {
	var out []sectionField
	for i := range t.NumField() {
		sf := t.Field(i)
		key := sf.Tag.Get("mapstructure")
		if key == "" || sf.Type.Kind() != reflect.Struct {
			continue
		}
		s := sectionField{key: key, field: i, port: -1, url: -1, peerPort: -1}
		for j := range sf.Type.NumField() {
			f := sf.Type.Field(j)
			switch name, kind := f.Tag.Get("mapstructure"), f.Type.Kind(); {
			case name == "port" && kind == reflect.Int:
				s.port = j
			case name == "url" && kind == reflect.String:
				s.url = j
			case name == "peer_port" && kind == reflect.Int:
				s.peerPort = j
			}
		}
		if s.port >= 0 && s.url >= 0 {
			out = append(out, s)
		}
	}
	return out
}

var servicesSections = sync.OnceValue(func() []sectionField { return findSections(reflect.TypeFor[ServicesConfig]()) })

// ServiceSectionKeys lists the keys of the daemons' sections (services.KEY)
// in declaration order.
func ServiceSectionKeys() []string {
	var out []string
	for _, s := range servicesSections() {
		out = append(out, s.key)
	}
	return out
}

// Section returns the section services.KEY, and whether the configuration
// has one.
func (c ServicesConfig) Section(key string) (ServiceSection, bool) {
	for _, s := range servicesSections() {
		if s.key == key {
			return s.read(reflect.ValueOf(c)), true
		}
	}
	return ServiceSection{}, false
}
