package config

import (
	"reflect"
	"strings"
	"sync"
	"time"
)

// Kind is the type of a configuration value.
type Kind int

// Value kinds.
const (
	KindString Kind = iota
	KindInt
	KindBool
	KindStringList
	KindSecret
	KindDuration
)

// String names the kind for documentation.
func (k Kind) String() string {
	switch k {
	case KindInt:
		return "integer"
	case KindBool:
		return "boolean"
	case KindStringList:
		return "list of strings"
	case KindSecret:
		return "secret"
	case KindDuration:
		return "duration"
	default:
		return "string"
	}
}

func (k Kind) expected() string {
	switch k {
	case KindInt:
		return "an integer"
	case KindBool:
		return "true or false"
	case KindStringList:
		return "a list of strings"
	case KindDuration:
		return "a duration such as 30s or 5m"
	default:
		return "a string"
	}
}

// Field describes one configuration key.
type Field struct {
	Key  string   // dotted key, e.g. "api.port"
	Kind Kind     // value type
	Enum []string // allowed values, if restricted
	Doc  string   // one-line description

	index []int // path to the struct field
}

// EnvVar is the environment variable that sets the field.
func (f Field) EnvVar() string { return EnvVarFor(f.Key) }

// EnvVarFor returns the TARS_* environment variable for a dotted key:
// "rate_limiting.requests_per_minute" → TARS_RATE_LIMITING_REQUESTS_PER_MINUTE.
func EnvVarFor(key string) string {
	r := strings.NewReplacer(".", "_", "-", "_")
	return envPrefix + "_" + strings.ToUpper(r.Replace(key))
}

const envPrefix = "TARS"

var (
	schemaOnce   sync.Once
	schemaFields []Field
	schemaByKey  map[string]Field
	schemaGroups map[string]bool
)

func loadSchema() {
	schemaOnce.Do(func() {
		schemaByKey = map[string]Field{}
		schemaGroups = map[string]bool{}
		walkSchema(reflect.TypeFor[Config](), "", nil)
	})
}

func walkSchema(t reflect.Type, prefix string, index []int) {
	for i := range t.NumField() {
		sf := t.Field(i)
		name := sf.Tag.Get("mapstructure")
		if name == "" {
			continue
		}
		key := prefix + name
		idx := append(append([]int(nil), index...), i)
		if sf.Type.Kind() == reflect.Struct {
			schemaGroups[key] = true
			walkSchema(sf.Type, key+".", idx)
			continue
		}
		f := Field{Key: key, Doc: sf.Tag.Get("doc"), index: idx}
		switch {
		case sf.Type == reflect.TypeFor[Secret]():
			f.Kind = KindSecret
		case sf.Type == reflect.TypeFor[time.Duration]():
			f.Kind = KindDuration
		case sf.Type.Kind() == reflect.String:
			f.Kind = KindString
		case sf.Type.Kind() == reflect.Int:
			f.Kind = KindInt
		case sf.Type.Kind() == reflect.Bool:
			f.Kind = KindBool
		case sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.String:
			f.Kind = KindStringList
		default:
			panic("config: unsupported field type " + sf.Type.String() + " for " + key)
		}
		if e := sf.Tag.Get("enum"); e != "" {
			f.Enum = strings.Split(e, "|")
		}
		schemaFields = append(schemaFields, f)
		schemaByKey[key] = f
	}
}

// Fields lists every configuration key in declaration order.
func Fields() []Field {
	loadSchema()
	return schemaFields
}

// LookupField returns the field for a dotted key.
func LookupField(key string) (Field, bool) {
	loadSchema()
	f, ok := schemaByKey[key]
	return f, ok
}

func isGroup(key string) bool {
	loadSchema()
	return schemaGroups[key]
}

// Value returns the value of f in c.
func (c *Config) Value(f Field) any {
	return reflect.ValueOf(c).Elem().FieldByIndex(f.index).Interface()
}
