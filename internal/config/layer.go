package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// layer is one source of configuration values: built-in defaults, a profile,
// a config file, the environment, or flags. Values are typed and flat, keyed
// by dotted key.
type layer struct {
	kind   sourceKind
	name   string // profile name, file path, or "" for env/flags
	values map[string]any
	origin map[string]string // key → where the value came from, for messages
	// unset holds, per key, the problems of a value that names an unset
	// ${VAR}. They count only when no higher layer sets the key: a
	// profile's ${REDIS_PASSWORD} is no error when a config file gives
	// redis.password itself.
	unset map[string][]Problem
}

type sourceKind int

// Source kinds in ascending precedence.
const (
	sourceDefault sourceKind = iota
	sourceProfile
	sourceFile
	sourceEnv
	sourceFlag
)

func newLayer(kind sourceKind, name string) *layer {
	return &layer{kind: kind, name: name, values: map[string]any{}, origin: map[string]string{}}
}

// label describes the layer for `config show`.
func (l *layer) label() string {
	switch l.kind {
	case sourceProfile:
		return "profile " + l.name
	case sourceFile:
		return "file " + l.name
	case sourceEnv:
		return "env"
	case sourceFlag:
		return "flag"
	default:
		return "default"
	}
}

// yamlParser turns one YAML document into a layer, collecting problems with
// file positions instead of stopping at the first.
type yamlParser struct {
	file     string // shown in problem positions
	getenv   func(string) string
	l        *layer
	problems []Problem
}

func (p *yamlParser) pos(n *yaml.Node) string {
	return fmt.Sprintf("%s:%d:%d", p.file, n.Line, n.Column)
}

func (p *yamlParser) addf(n *yaml.Node, key, format string, args ...any) {
	p.problems = append(p.problems, Problem{Source: p.pos(n), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// parseYAML parses data into l. A document that is not YAML yields a single
// problem; everything else is checked key by key.
func parseYAML(data []byte, file string, l *layer, getenv func(string) string) []Problem {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return []Problem{{Source: file, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	p := &yamlParser{file: file, getenv: getenv, l: l}
	if len(doc.Content) == 0 {
		return nil // an empty file sets nothing
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.addf(root, "", "expected a mapping of keys at the top level, got %s", describeNode(root))
		return p.problems
	}
	p.mapping(root, "")
	return p.problems
}

func (p *yamlParser) mapping(n *yaml.Node, prefix string) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		key := prefix + kn.Value
		if seen[kn.Value] {
			p.addf(kn, key, "key is set twice in the same mapping")
			continue
		}
		seen[kn.Value] = true
		switch {
		case isGroup(key):
			if isNull(vn) {
				continue
			}
			if vn.Kind != yaml.MappingNode {
				p.addf(vn, key, "expected a mapping, got %s", describeNode(vn))
				continue
			}
			p.mapping(vn, key+".")
		case key == "redis.sentinel":
			p.legacySentinel(vn)
		default:
			f, ok := LookupField(key)
			if !ok {
				p.addf(kn, key, "unknown key%s", suggest(kn.Value, prefix))
				continue
			}
			p.value(f, vn)
		}
	}
}

// legacySentinel accepts the runbook's `redis.sentinel: true`, which means
// redis.mode sentinel, unless the same file names a mode itself.
func (p *yamlParser) legacySentinel(vn *yaml.Node) {
	if isNull(vn) {
		return
	}
	b, err := strconv.ParseBool(vn.Value)
	if vn.Kind != yaml.ScalarNode || err != nil {
		p.addf(vn, "redis.sentinel", "expected true or false, got %s", describeNode(vn))
		return
	}
	if _, set := p.l.values["redis.mode"]; b && !set {
		p.l.values["redis.mode"] = RedisSentinel
		p.l.origin["redis.mode"] = p.pos(vn)
	}
}

func (p *yamlParser) value(f Field, vn *yaml.Node) {
	if isNull(vn) {
		return // null leaves the key unset, as in the runbook's `password: null`
	}
	var v any
	switch f.Kind {
	case KindStringList:
		if vn.Kind != yaml.SequenceNode {
			p.addf(vn, f.Key, "expected %s, got %s", f.Kind.expected(), describeNode(vn))
			return
		}
		list := make([]string, 0, len(vn.Content))
		for _, item := range vn.Content {
			if item.Kind != yaml.ScalarNode || isNull(item) {
				p.addf(item, f.Key, "expected list items to be strings, got %s", describeNode(item))
				return
			}
			s, ok := p.expand(item, f)
			if !ok {
				return
			}
			list = append(list, s)
		}
		v = list
	default:
		if vn.Kind != yaml.ScalarNode {
			p.addf(vn, f.Key, "expected %s, got %s", f.Kind.expected(), describeNode(vn))
			return
		}
		s, ok := p.expand(vn, f)
		if !ok {
			return
		}
		tv, err := parseScalar(f, s)
		if err != nil {
			p.addf(vn, f.Key, "%v", err)
			return
		}
		v = tv
	}
	p.l.values[f.Key] = v
	p.l.origin[f.Key] = p.pos(vn)
}

// expand applies ${VAR} expansion to a scalar and reports unset variables.
func (p *yamlParser) expand(n *yaml.Node, f Field) (string, bool) {
	s, missing, err := expand(n.Value, p.getenv)
	if err != nil {
		p.addf(n, f.Key, "%v", err)
		return "", false
	}
	if len(missing) > 0 {
		if p.l.unset == nil {
			p.l.unset = map[string][]Problem{}
		}
		for _, name := range missing {
			p.l.unset[f.Key] = append(p.l.unset[f.Key], Problem{Source: p.pos(n), Key: f.Key,
				Msg: fmt.Sprintf("environment variable %s is not set (referenced as ${%s}; use ${%s:-default} for a fallback)", name, name, name)})
		}
		return "", false
	}
	return s, true
}

// parseScalar converts text to the field's type. Errors say what was
// expected and, except for secrets, what was found.
func parseScalar(f Field, s string) (any, error) {
	switch f.Kind {
	case KindInt:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("expected %s, got %q", f.Kind.expected(), s)
		}
		return n, nil
	case KindBool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("expected %s, got %q", f.Kind.expected(), s)
		}
		return b, nil
	case KindStringList:
		var out []string
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
		return out, nil
	case KindSecret:
		return Secret(s), nil
	case KindDuration:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("expected %s, got %q", f.Kind.expected(), s)
		}
		return d, nil
	default:
		return s, nil
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!null":
		return "null"
	case "!!int":
		return "the integer " + n.Value
	case "!!bool":
		return "the boolean " + n.Value
	case "!!float":
		return "the number " + n.Value
	}
	return strconv.Quote(n.Value)
}

// suggest returns `; did you mean "x"?` for the closest known key under
// prefix, or `; known keys: …` when nothing is close.
func suggest(name, prefix string) string {
	var siblings []string
	for _, f := range Fields() {
		rest, ok := strings.CutPrefix(f.Key, prefix)
		if !ok {
			continue
		}
		first, _, _ := strings.Cut(rest, ".")
		if !slices.Contains(siblings, first) {
			siblings = append(siblings, first)
		}
	}
	best, bestDist := "", 3
	for _, s := range siblings {
		if d := editDistance(name, s); d < bestDist {
			best, bestDist = s, d
		}
	}
	if best != "" {
		return fmt.Sprintf(`; did you mean %q?`, best)
	}
	return "; known keys here: " + strings.Join(siblings, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
