package sbom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// requirementsCataloger reads pip requirements files: requirements.txt,
// requirements-dev.txt, requirements/base.txt's siblings through -r, and so
// on. Only exact pins (== or ===) name a version; anything else is reported.
type requirementsCataloger struct{}

var _ Cataloger = requirementsCataloger{}

func (requirementsCataloger) Name() string { return "python-requirements" }
func (requirementsCataloger) Match(base string) bool {
	return strings.HasPrefix(base, "requirements") && strings.HasSuffix(base, ".txt")
}

// pyReq is one pinned requirement.
type pyReq struct {
	name    string // as written
	version string
	hashes  []Hash
	via     []string // pip-compile "# via" annotations, "-r file" for direct
	line    int
}

var reqLine = regexp.MustCompile(`^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*(===|==|~=|!=|<=|>=|<|>|@)?\s*([^;]*?)\s*(?:;.*)?$`)

// parseRequirements parses a requirements file. It returns the pinned
// requirements, the files included with -r (relative to this one), and a
// warning for each requirement without an exact pin.
func parseRequirements(data []byte, file string) (reqs []pyReq, includes, warnings []string, err error) {
	if !utf8Text(data) {
		return nil, nil, nil, fmt.Errorf("%s: not a text file", file)
	}
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	var cur *pyReq
	inVia := false
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		raw := lines[i]
		trimmed := strings.TrimSpace(raw)
		if strings.HasPrefix(trimmed, "#") {
			c := strings.TrimSpace(strings.TrimPrefix(trimmed, "#"))
			switch {
			case cur != nil && c == "via":
				inVia = true
			case cur != nil && strings.HasPrefix(c, "via "):
				cur.via = append(cur.via, strings.TrimSpace(strings.TrimPrefix(c, "via ")))
				inVia = false
			case cur != nil && inVia && c != "" && strings.HasPrefix(strings.TrimPrefix(trimmed, "#"), "   "):
				cur.via = append(cur.via, c)
			default:
				inVia = false
			}
			continue
		}
		inVia = false
		// Join continuation lines.
		for strings.HasSuffix(raw, `\`) && i+1 < len(lines) {
			i++
			raw = strings.TrimSuffix(raw, `\`) + " " + lines[i]
		}
		line := stripComment(raw)
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		if strings.HasPrefix(fields[0], "-") {
			opt, val, _ := strings.Cut(fields[0], "=")
			if val == "" && len(fields) > 1 {
				val = fields[1]
			}
			switch opt {
			case "-r", "--requirement":
				if val == "" {
					return nil, nil, nil, fmt.Errorf("%s:%d: %s without a file", file, lineNo, opt)
				}
				includes = append(includes, val)
			case "-e", "--editable":
				warnings = append(warnings, fmt.Sprintf("%s:%d: editable requirement %q has no version", file, lineNo, val))
			}
			// Other options (-c, --index-url, --hash on its own line, …) name
			// no package.
			cur = nil
			continue
		}
		spec, opts := splitOptions(line)
		m := reqLine.FindStringSubmatch(spec)
		if m == nil {
			return nil, nil, nil, fmt.Errorf("%s:%d: cannot parse requirement %q", file, lineNo, truncate(spec, 80))
		}
		name, op, ver := m[1], m[2], m[3]
		if (op != "==" && op != "===") || ver == "" || strings.ContainsAny(ver, "*,<>!= ") {
			warnings = append(warnings, fmt.Sprintf("%s:%d: %s is not pinned to one version (use ==), so it is left out", file, lineNo, name))
			cur = nil
			continue
		}
		r := pyReq{name: name, version: ver, line: lineNo}
		for _, o := range opts {
			if h, ok := strings.CutPrefix(o, "--hash="); ok {
				if hh, ok := parseAlgHash(h); ok {
					r.hashes = append(r.hashes, hh)
				}
			}
		}
		reqs = append(reqs, r)
		cur = &reqs[len(reqs)-1]
	}
	return reqs, includes, warnings, nil
}

// splitOptions separates "--hash=…" and other per-requirement options from
// the requirement itself.
func splitOptions(line string) (string, []string) {
	i := strings.Index(line, " --")
	if i < 0 {
		return strings.TrimSpace(line), nil
	}
	return strings.TrimSpace(line[:i]), strings.Fields(line[i:])
}

// stripComment removes a "#" comment: one at the start of the line or after
// whitespace, as pip does (a "#" inside a URL fragment stays).
func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			s = s[:i]
			break
		}
	}
	return strings.TrimSpace(s)
}

func parseAlgHash(s string) (Hash, bool) {
	alg, v, ok := strings.Cut(s, ":")
	if !ok || v == "" {
		return Hash{}, false
	}
	v = strings.ToLower(v)
	switch strings.ToLower(alg) {
	case "sha256":
		return Hash{SHA256, v}, len(v) == 64 && isHex(v)
	case "sha384":
		return Hash{SHA384, v}, len(v) == 96 && isHex(v)
	case "sha512":
		return Hash{SHA512, v}, len(v) == 128 && isHex(v)
	}
	return Hash{}, false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// isDevFile reports whether a requirements file holds development
// dependencies, by the usual names (requirements-dev.txt, …-test.txt).
func isDevFile(rel string) bool {
	b := strings.ToLower(filepath.Base(rel))
	for _, w := range []string{"dev", "test", "lint", "docs"} {
		if strings.Contains(b, w) {
			return true
		}
	}
	return false
}

func (requirementsCataloger) Catalog(_ context.Context, f File, inv *Inventory) error {
	return catalogRequirements(f, f.Path, f.Rel, inv, map[string]bool{})
}

func catalogRequirements(f File, p, rel string, inv *Inventory, seen map[string]bool) error {
	abs, _ := filepath.Abs(p)
	if seen[abs] {
		return nil
	}
	seen[abs] = true
	data, err := readManifest(p)
	if err != nil {
		return err
	}
	reqs, includes, warnings, err := parseRequirements(data, rel)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		inv.Warn(w)
	}
	dev := isDevFile(rel)
	if dev && f.Env.ExcludeDev {
		return nil
	}
	refs := map[string]string{}
	for _, r := range reqs {
		c := pyComponent(r.name, r.version, rel)
		c.Hashes = r.hashes
		if dev {
			c.Scope = ScopeDev
		}
		inv.Add(c)
		refs[NormalizePyPI(r.name)] = c.Ref
	}
	// pip-compile's "# via" comments give the graph; without them every
	// requirement is taken as direct.
	for _, r := range reqs {
		ref := refs[NormalizePyPI(r.name)]
		direct := len(r.via) == 0
		for _, v := range r.via {
			if strings.HasPrefix(v, "-r ") || strings.HasPrefix(v, "-c ") {
				direct = true
				continue
			}
			if from, ok := refs[NormalizePyPI(v)]; ok {
				inv.AddDependency(from, ref)
			}
		}
		if direct {
			inv.AddDependency(inv.Root.Ref, ref)
		}
	}
	for _, inc := range includes {
		ip := filepath.Join(filepath.Dir(p), filepath.FromSlash(inc))
		irel := filepath.ToSlash(filepath.Join(filepath.Dir(rel), inc))
		if err := catalogRequirements(f, ip, irel, inv, seen); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				inv.Warn(fmt.Sprintf("%s: included file %s does not exist", rel, inc))
				continue
			}
			return err
		}
	}
	return nil
}

func pyComponent(name, version, rel string) Component {
	c := Component{Type: "library", Ecosystem: PyPI, Name: NormalizePyPI(name), Version: version, PURL: PURL(PyPI, name, version)}
	c.SetProperty(PropSource, rel)
	c.Ref = componentRef(c)
	return c
}

var pep508 = regexp.MustCompile(`^\s*([A-Za-z0-9][A-Za-z0-9._-]*)`)

// poetryCataloger reads poetry.lock, and pyproject.toml beside it for the
// direct dependencies.
type poetryCataloger struct{}

var _ Cataloger = poetryCataloger{}

func (poetryCataloger) Name() string           { return "python-poetry" }
func (poetryCataloger) Match(base string) bool { return base == "poetry.lock" }

type poetryFile struct {
	File string `toml:"file"`
	Hash string `toml:"hash"`
}

type poetryLock struct {
	Package []struct {
		Name         string         `toml:"name"`
		Version      string         `toml:"version"`
		Category     string         `toml:"category"`
		Optional     bool           `toml:"optional"`
		Groups       []string       `toml:"groups"`
		Files        []poetryFile   `toml:"files"`
		Dependencies map[string]any `toml:"dependencies"`
	} `toml:"package"`
	Metadata struct {
		Files map[string][]poetryFile `toml:"files"`
	} `toml:"metadata"`
}

type pyPackage struct {
	name, version string
	dev, optional bool
	hashes        []Hash
	deps          []string // normalised names
}

func parsePoetryLock(data []byte, file string) ([]pyPackage, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s: empty file", file)
	}
	var lock poetryLock
	if err := toml.Unmarshal(data, &lock); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, fmt.Errorf("%s:%d:%d: %v", file, row, col, de)
		}
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	var out []pyPackage
	for i, p := range lock.Package {
		if p.Name == "" || p.Version == "" {
			return nil, fmt.Errorf("%s: package #%d has no name or version", file, i+1)
		}
		pp := pyPackage{name: p.Name, version: p.Version, optional: p.Optional}
		pp.dev = p.Category == "dev" || (len(p.Groups) > 0 && !slices.Contains(p.Groups, "main"))
		files := p.Files
		if len(files) == 0 {
			files = lock.Metadata.Files[p.Name]
		}
		for _, f := range files {
			if h, ok := parseAlgHash(f.Hash); ok {
				pp.hashes = append(pp.hashes, h)
			}
		}
		for d := range p.Dependencies {
			pp.deps = append(pp.deps, NormalizePyPI(d))
		}
		slices.Sort(pp.deps)
		out = append(out, pp)
	}
	return out, nil
}

func (poetryCataloger) Catalog(_ context.Context, f File, inv *Inventory) error {
	data, err := readManifest(f.Path)
	if err != nil {
		return err
	}
	pkgs, err := parsePoetryLock(data, f.Rel)
	if err != nil {
		return err
	}
	direct, err := pyprojectDirect(filepath.Join(filepath.Dir(f.Path), "pyproject.toml"))
	if err != nil {
		return err
	}
	addPyPackages(f, inv, pkgs, direct)
	return nil
}

// addPyPackages adds lockfile packages and their edges. direct names the
// project's own dependencies (normalised); when nil, packages nothing else
// depends on are taken as direct.
func addPyPackages(f File, inv *Inventory, pkgs []pyPackage, direct map[string]bool) {
	refs := map[string]string{}
	depended := map[string]bool{}
	for _, p := range pkgs {
		if p.dev && f.Env.ExcludeDev {
			continue
		}
		c := pyComponent(p.name, p.version, f.Rel)
		c.Hashes = p.hashes
		switch {
		case p.dev:
			c.Scope = ScopeDev
		case p.optional:
			c.Scope = ScopeOptional
		}
		inv.Add(c)
		refs[NormalizePyPI(p.name)] = c.Ref
		for _, d := range p.deps {
			depended[d] = true
		}
	}
	for _, p := range pkgs {
		from, ok := refs[NormalizePyPI(p.name)]
		if !ok {
			continue
		}
		for _, d := range p.deps {
			if to, ok := refs[d]; ok {
				inv.AddDependency(from, to)
			}
		}
		n := NormalizePyPI(p.name)
		if (direct != nil && direct[n]) || (direct == nil && !depended[n]) {
			inv.AddDependency(inv.Root.Ref, from)
		}
	}
}

// pyprojectDirect reads the direct dependencies from pyproject.toml:
// poetry's tables and PEP 621's lists. It returns nil when there is no
// pyproject.toml.
func pyprojectDirect(p string) (map[string]bool, error) {
	data, err := readManifest(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var pp struct {
		Project struct {
			Dependencies         []string            `toml:"dependencies"`
			OptionalDependencies map[string][]string `toml:"optional-dependencies"`
		} `toml:"project"`
		Tool struct {
			Poetry struct {
				Dependencies    map[string]any `toml:"dependencies"`
				DevDependencies map[string]any `toml:"dev-dependencies"`
				Group           map[string]struct {
					Dependencies map[string]any `toml:"dependencies"`
				} `toml:"group"`
			} `toml:"poetry"`
		} `toml:"tool"`
	}
	if err := toml.Unmarshal(data, &pp); err != nil {
		return nil, fmt.Errorf("parse %s: %v", p, err)
	}
	direct := map[string]bool{}
	add := func(m map[string]any) {
		for k := range m {
			if k != "python" {
				direct[NormalizePyPI(k)] = true
			}
		}
	}
	add(pp.Tool.Poetry.Dependencies)
	add(pp.Tool.Poetry.DevDependencies)
	for _, g := range pp.Tool.Poetry.Group {
		add(g.Dependencies)
	}
	for _, list := range append([][]string{pp.Project.Dependencies}, mapValues(pp.Project.OptionalDependencies)...) {
		for _, d := range list {
			if m := pep508.FindStringSubmatch(d); m != nil {
				direct[NormalizePyPI(m[1])] = true
			}
		}
	}
	if len(direct) == 0 {
		return nil, nil
	}
	return direct, nil
}

func mapValues(m map[string][]string) [][]string {
	var out [][]string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// pipfileCataloger reads Pipfile.lock, and the Pipfile beside it for the
// direct dependencies.
type pipfileCataloger struct{}

var _ Cataloger = pipfileCataloger{}

func (pipfileCataloger) Name() string           { return "python-pipenv" }
func (pipfileCataloger) Match(base string) bool { return base == "Pipfile.lock" }

type pipfileEntry struct {
	Version string   `json:"version"`
	Hashes  []string `json:"hashes"`
}

func parsePipfileLock(data []byte, file string) ([]pyPackage, []string, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, fmt.Errorf("%s: empty file", file)
	}
	var lock struct {
		Meta    *json.RawMessage        `json:"_meta"`
		Default map[string]pipfileEntry `json:"default"`
		Develop map[string]pipfileEntry `json:"develop"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", file, err)
	}
	if lock.Meta == nil {
		return nil, nil, fmt.Errorf("%s: no _meta section: not a Pipfile.lock", file)
	}
	var out []pyPackage
	var warnings []string
	for _, sec := range []struct {
		entries map[string]pipfileEntry
		dev     bool
	}{{lock.Default, false}, {lock.Develop, true}} {
		names := make([]string, 0, len(sec.entries))
		for n := range sec.entries {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			e := sec.entries[n]
			v, ok := strings.CutPrefix(e.Version, "==")
			if !ok || v == "" {
				warnings = append(warnings, fmt.Sprintf("%s: %s has no pinned version (a VCS or editable package?), so it is left out", file, n))
				continue
			}
			p := pyPackage{name: n, version: v, dev: sec.dev}
			for _, h := range e.Hashes {
				if hh, ok := parseAlgHash(h); ok {
					p.hashes = append(p.hashes, hh)
				}
			}
			out = append(out, p)
		}
	}
	return out, warnings, nil
}

func (pipfileCataloger) Catalog(_ context.Context, f File, inv *Inventory) error {
	data, err := readManifest(f.Path)
	if err != nil {
		return err
	}
	pkgs, warnings, err := parsePipfileLock(data, f.Rel)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		inv.Warn(w)
	}
	direct, err := pipfileDirect(filepath.Join(filepath.Dir(f.Path), "Pipfile"))
	if err != nil {
		return err
	}
	if direct == nil {
		// Pipfile.lock records no graph; without the Pipfile, everything
		// is taken as direct.
		direct = map[string]bool{}
		for _, p := range pkgs {
			direct[NormalizePyPI(p.name)] = true
		}
	}
	addPyPackages(f, inv, pkgs, direct)
	return nil
}

func pipfileDirect(p string) (map[string]bool, error) {
	data, err := readManifest(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var pf struct {
		Packages    map[string]any `toml:"packages"`
		DevPackages map[string]any `toml:"dev-packages"`
	}
	if err := toml.Unmarshal(data, &pf); err != nil {
		return nil, fmt.Errorf("parse %s: %v", p, err)
	}
	direct := map[string]bool{}
	for k := range pf.Packages {
		direct[NormalizePyPI(k)] = true
	}
	for k := range pf.DevPackages {
		direct[NormalizePyPI(k)] = true
	}
	return direct, nil
}
