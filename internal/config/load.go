package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// LoadOptions says where configuration comes from. Everything Load reads
// goes through these fields, so precedence can be table-tested without
// touching the process environment or the disk.
type LoadOptions struct {
	// Profile is --profile; empty means $TARS_PROFILE, then "local".
	Profile string
	// ConfigFile is --config; empty means $TARS_CONFIG, then
	// $XDG_CONFIG_HOME/tarsctl/config.yaml if it exists.
	ConfigFile string
	// Set holds --set KEY=VALUE overrides, applied last.
	Set []string
	// Flags and FlagKeys bind command flags to keys (flag name by key); a
	// flag wins only when the user set it.
	Flags    *pflag.FlagSet
	FlagKeys map[string]string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// ReadFile reads the config file; nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
}

// Result is the effective configuration and where each value came from.
type Result struct {
	Config     *Config
	Profile    string
	ConfigFile string            // the file that was read, "" if none
	Sources    map[string]string // key → "default", "profile NAME", "file PATH", "env TARS_X", "flag --x"
	Problems   []Problem
}

// Err returns a [*ValidationError] listing every problem, or nil.
func (r *Result) Err() error {
	if len(r.Problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: r.Problems}
}

// Load builds the configuration from, highest precedence first: flags,
// TARS_* environment variables, the config file, the profile, and built-in
// defaults. It always returns a Result; when any source has problems it also
// returns a [*ValidationError] listing all of them, and the Result holds the
// best configuration that could be built, for display.
func Load(opts LoadOptions) (*Result, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	readFile := opts.ReadFile
	if readFile == nil {
		readFile = os.ReadFile
	}
	res := &Result{Sources: map[string]string{}}

	res.Profile = firstNonEmpty(opts.Profile, getenv("TARS_PROFILE"), DefaultProfile)
	layers := []*layer{defaultLayer()}
	if !IsProfile(res.Profile) {
		src := "--profile"
		if opts.Profile == "" {
			src = "env TARS_PROFILE"
		}
		res.Problems = append(res.Problems, Problem{Source: src, Msg: fmt.Sprintf("unknown profile %q; known profiles: %s", res.Profile, strings.Join(ProfileNames(), ", "))})
		return res, res.Err() // nothing sensible to show without the profile
	}
	pl := newLayer(sourceProfile, res.Profile)
	data, err := ProfileYAML(res.Profile)
	if err != nil {
		return res, fmt.Errorf("read embedded profile %q: %w", res.Profile, err)
	}
	res.Problems = append(res.Problems, parseYAML(data, "profile "+res.Profile, pl, getenv)...)
	layers = append(layers, pl)

	file, explicit := configFilePath(opts.ConfigFile, getenv)
	if file != "" {
		data, err := readFile(file)
		switch {
		case err == nil:
			res.ConfigFile = file
			fl := newLayer(sourceFile, file)
			res.Problems = append(res.Problems, parseYAML(data, file, fl, getenv)...)
			layers = append(layers, fl)
		case errors.Is(err, fs.ErrNotExist) && !explicit:
			// The default location is optional.
		default:
			res.Problems = append(res.Problems, Problem{Source: file, Msg: "cannot read config file: " + describeReadError(err)})
		}
	}

	el, problems := envLayer(getenv)
	res.Problems = append(res.Problems, problems...)
	layers = append(layers, el)

	fl, problems := flagLayer(opts)
	res.Problems = append(res.Problems, problems...)
	layers = append(layers, fl)

	res.Problems = append(res.Problems, unsetProblems(layers)...)

	cfg, err := merge(layers)
	if err != nil {
		return res, err
	}
	res.Config = cfg
	origin := map[string]string{}
	for _, f := range Fields() {
		for _, l := range layers {
			if _, ok := l.values[f.Key]; ok {
				res.Sources[f.Key] = l.sourceOf(f.Key)
				origin[f.Key] = l.origin[f.Key]
			}
		}
	}
	res.Problems = append(res.Problems, cfg.validate(origin)...)
	sortProblems(res.Problems)
	// Validation matched log levels case-insensitively; hand on one spelling.
	cfg.LogLevel = strings.ToUpper(cfg.LogLevel)
	return res, res.Err()
}

// unsetProblems reports the values that name an unset ${VAR}, except
// where a higher layer sets the same key.
func unsetProblems(layers []*layer) []Problem {
	var problems []Problem
	for i, l := range layers {
		for key, ps := range l.unset {
			overridden := false
			for _, higher := range layers[i+1:] {
				if _, ok := higher.values[key]; ok {
					overridden = true
					break
				}
			}
			if !overridden {
				problems = append(problems, ps...)
			}
		}
	}
	return problems
}

func (l *layer) sourceOf(key string) string {
	switch l.kind {
	case sourceEnv, sourceFlag:
		return l.origin[key]
	default:
		return l.label()
	}
}

// merge layers the values with viper: defaults first, then the profile and
// file as merged config maps, then environment and flag values as overrides
// in ascending precedence. Values are already typed and checked, so the
// final Unmarshal cannot meet a string where an int belongs.
func merge(layers []*layer) (*Config, error) {
	v := viper.New()
	for _, l := range layers {
		switch l.kind {
		case sourceDefault:
			for k, val := range l.values {
				v.SetDefault(k, val)
			}
		case sourceProfile, sourceFile:
			if err := v.MergeConfigMap(nest(l.values)); err != nil {
				return nil, fmt.Errorf("merge %s: %w", l.label(), err)
			}
		default:
			for k, val := range l.values {
				v.Set(k, val)
			}
		}
	}
	var cfg Config
	if err := v.Unmarshal(&cfg); err != nil {
		return nil, fmt.Errorf("decode configuration: %w", err)
	}
	return &cfg, nil
}

// nest turns {"api.port": 1} into {"api": {"port": 1}} for viper.
func nest(flat map[string]any) map[string]any {
	out := map[string]any{}
	for k, val := range flat {
		PutNested(out, k, val)
	}
	return out
}

func defaultLayer() *layer {
	l := newLayer(sourceDefault, "")
	l.values = defaults()
	return l
}

// RunbookEnvAliases are environment variables the runbook names, read
// for their key when TARS_<KEY> is not set (the runbook's dual-key
// signing configuration).
var RunbookEnvAliases = map[string]string{
	"signing.key_file":     "SIGNING_KEY_NEW",
	"signing.old_key_file": "SIGNING_KEY_OLD",
	"signing.verify_keys":  "VERIFY_KEYS",
}

// envLayer reads TARS_<KEY> for every key, or the runbook's name for it.
func envLayer(getenv func(string) string) (*layer, []Problem) {
	l := newLayer(sourceEnv, "")
	var problems []Problem
	for _, f := range Fields() {
		name := f.EnvVar()
		s := getenv(name)
		if alias, ok := RunbookEnvAliases[f.Key]; ok && s == "" {
			name, s = alias, getenv(alias)
		}
		if s == "" {
			continue
		}
		v, err := parseScalar(f, s)
		if err != nil {
			problems = append(problems, Problem{Source: "env " + name, Key: f.Key, Msg: err.Error()})
			continue
		}
		l.values[f.Key] = v
		l.origin[f.Key] = "env " + name
	}
	return l, problems
}

// flagLayer reads bound command flags, then --set overrides.
func flagLayer(opts LoadOptions) (*layer, []Problem) {
	l := newLayer(sourceFlag, "")
	var problems []Problem
	if opts.Flags != nil {
		for key, name := range opts.FlagKeys {
			fl := opts.Flags.Lookup(name)
			f, ok := LookupField(key)
			if fl == nil || !ok || !fl.Changed {
				continue
			}
			v, err := parseScalar(f, flagString(fl))
			if err != nil {
				problems = append(problems, Problem{Source: "flag --" + name, Key: key, Msg: err.Error()})
				continue
			}
			l.values[key] = v
			l.origin[key] = "flag --" + name
		}
	}
	for _, kv := range opts.Set {
		key, s, ok := strings.Cut(kv, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			problems = append(problems, Problem{Source: "flag --set", Msg: fmt.Sprintf("expected KEY=VALUE, got %q", kv)})
			continue
		}
		f, known := LookupField(key)
		if !known {
			prefix := ""
			if i := strings.LastIndexByte(key, '.'); i >= 0 {
				prefix = key[:i+1]
			}
			problems = append(problems, Problem{Source: "flag --set", Key: key, Msg: "unknown key" + suggest(key[len(prefix):], prefix)})
			continue
		}
		v, err := parseScalar(f, s)
		if err != nil {
			problems = append(problems, Problem{Source: "flag --set", Key: key, Msg: err.Error()})
			continue
		}
		l.values[key] = v
		l.origin[key] = "flag --set"
	}
	return l, problems
}

// flagString renders a flag's value as config text; slice flags print as
// "[a,b]", which parseScalar's comma split must not see.
func flagString(fl *pflag.Flag) string {
	if sv, ok := fl.Value.(pflag.SliceValue); ok {
		return strings.Join(sv.GetSlice(), ",")
	}
	return fl.Value.String()
}

// configFilePath picks the config file and reports whether the user named
// it (a named file must exist; the default location need not).
func configFilePath(flag string, getenv func(string) string) (string, bool) {
	if flag != "" {
		return flag, true
	}
	if env := getenv("TARS_CONFIG"); env != "" {
		return env, true
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return "", false
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "tarsctl", "config.yaml"), false
}

// DefaultConfigFile returns the config file tarsctl reads when neither
// --config nor TARS_CONFIG names one.
func DefaultConfigFile(getenv func(string) string) string {
	p, _ := configFilePath("", getenv)
	return p
}

func describeReadError(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
