package sbom

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

// maxManifest caps go.mod, go.sum and lockfiles: real ones are far smaller.
const maxManifest = 64 << 20

// goModCataloger reads go.mod and the go.sum beside it.
type goModCataloger struct{}

var _ Cataloger = goModCataloger{}

func (goModCataloger) Name() string           { return "go-module" }
func (goModCataloger) Match(base string) bool { return base == "go.mod" }

// goModule is one module of a build list: the path it is required by, and
// the module that actually provides it after replace directives.
type goModule struct {
	path, version string // as required
	real          module.Version
	localDir      string // replaced by a directory
	indirect      bool
}

func (goModCataloger) Catalog(ctx context.Context, f File, inv *Inventory) error {
	data, err := readManifest(f.Path)
	if err != nil {
		return err
	}
	mf, err := modfile.Parse(f.Path, data, nil)
	if err != nil {
		return fmt.Errorf("parse %w", err) // modfile names the file and line
	}
	if mf.Module == nil {
		return fmt.Errorf("parse %s: no module directive", f.Path)
	}
	mainPath := mf.Module.Mod.Path

	parent := inv.Root.Ref
	if f.Top && inv.Root.Ecosystem == "" {
		inv.Root.Ecosystem = Golang
		inv.Root.SetProperty("tarsctl:purl-name", mainPath)
		if inv.Root.Name == "" {
			inv.Root.Name = path.Base(mainPath)
		}
	} else {
		sub := Component{Type: "application", Ecosystem: Golang, Name: mainPath, PURL: PURL(Golang, mainPath, "")}
		sub.SetProperty(PropSource, f.Rel)
		inv.Add(sub)
		parent = componentRef(sub)
		inv.AddDependency(inv.Root.Ref, parent)
	}

	sums, err := readGoSum(filepath.Join(filepath.Dir(f.Path), "go.sum"))
	if err != nil {
		return err
	}
	replace := map[string]*modfile.Replace{}
	for _, r := range mf.Replace {
		replace[r.Old.Path+"@"+r.Old.Version] = r
	}
	var mods []goModule
	for _, r := range mf.Require {
		m := goModule{path: r.Mod.Path, version: r.Mod.Version, real: r.Mod, indirect: r.Indirect}
		rep := replace[r.Mod.Path+"@"+r.Mod.Version]
		if rep == nil {
			rep = replace[r.Mod.Path+"@"]
		}
		if rep != nil {
			if rep.New.Version == "" {
				m.localDir = rep.New.Path
			} else {
				m.real = rep.New
			}
		}
		mods = append(mods, m)
	}

	byPath := map[string]string{} // required path → ref
	var missing []string
	env := f.Env
	for _, m := range mods {
		c := Component{Type: "library", Ecosystem: Golang, Name: m.path, Version: m.version}
		if m.localDir != "" {
			c.Version = ""
			c.PURL = PURL(Golang, m.path, "")
			c.SetProperty("tarsctl:go:replaced-by-directory", m.localDir)
		} else {
			c.PURL = PURL(Golang, m.real.Path, m.real.Version)
			if m.real != (module.Version{Path: m.path, Version: m.version}) {
				c.Name, c.Version = m.real.Path, m.real.Version
				c.SetProperty("tarsctl:go:replaces", m.path+"@"+m.version)
			}
			if h1, ok := sums[m.real.Path+"@"+m.real.Version]; ok {
				c.SetProperty(PropGoH1, h1)
			}
		}
		c.SetProperty(PropSource, f.Rel)
		c.Ref = componentRef(c)
		inv.Add(c)
		byPath[m.path] = c.Ref
		if !m.indirect {
			inv.AddDependency(parent, c.Ref)
		}
		if m.localDir == "" && !env.licenses.queueGoModule(env.ModCache, c.Ref, m.real.Path, m.real.Version) {
			missing = append(missing, m.real.Path+"@"+m.real.Version)
		}
	}

	// The module graph: each dependency's own go.mod, from the module
	// cache's download directory, names what it requires.
	for _, m := range mods {
		if err := ctx.Err(); err != nil {
			return err
		}
		if m.localDir != "" || env.ModCache == "" {
			continue
		}
		reqs, ok := cachedRequires(env.ModCache, m.real)
		if !ok {
			if !slices.Contains(missing, m.real.Path+"@"+m.real.Version) {
				missing = append(missing, m.real.Path+"@"+m.real.Version)
			}
			continue
		}
		from := byPath[m.path]
		for _, r := range reqs {
			if to, ok := byPath[r]; ok {
				inv.AddDependency(from, to)
			}
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		where := env.ModCache
		if where == "" {
			where = "unknown (set GOMODCACHE)"
		}
		inv.Warn(fmt.Sprintf("%s: %d module(s) are not in the module cache %s, so their licenses and dependencies are unknown (run `go mod download` to fetch them; tarsctl never does): %s",
			f.Rel, len(missing), where, strings.Join(missing, ", ")))
	}
	return nil
}

// cachedRequires returns the module paths m's go.mod requires, read from
// the module cache.
func cachedRequires(modCache string, m module.Version) ([]string, bool) {
	ep, err1 := module.EscapePath(m.Path)
	ev, err2 := module.EscapeVersion(m.Version)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	p := filepath.Join(modCache, "cache", "download", filepath.FromSlash(ep), "@v", ev+".mod")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	mf, err := modfile.ParseLax(p, data, nil)
	if err != nil {
		return nil, false
	}
	out := make([]string, 0, len(mf.Require))
	for _, r := range mf.Require {
		out = append(out, r.Mod.Path)
	}
	return out, true
}

// readGoSum returns the "h1:" hash of each module's file tree, keyed by
// path@version. A missing go.sum is not an error: a module without
// dependencies has none.
func readGoSum(p string) (map[string]string, error) {
	data, err := readManifest(p)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 3 {
			return nil, fmt.Errorf("%s:%d: malformed go.sum line", p, i+1)
		}
		if strings.HasSuffix(fields[1], "/go.mod") {
			continue // the hash of the go.mod file alone
		}
		sums[fields[0]+"@"+fields[1]] = fields[2]
	}
	return sums, nil
}

// catalogBinary inventories a Go binary from the build information the Go
// linker embeds: the main module, each dependency module with its version
// and go.sum hash, and the build settings. The binary does not record the
// module graph, so every dependency hangs off the root.
func catalogBinary(_ context.Context, p string, inv *Inventory, env *Env) error {
	bi, err := buildinfo.ReadFile(p)
	if err != nil {
		return fmt.Errorf("%s: %w: not a lockfile tarsctl reads, nor a Go binary with build information (%v)", p, ErrUnknownFormat, err)
	}
	r := &inv.Root
	r.Ecosystem = Golang
	r.SetProperty("tarsctl:purl-name", bi.Main.Path)
	if r.Name == "" {
		r.Name = path.Base(bi.Main.Path)
	}
	if r.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		r.Version = bi.Main.Version
	}
	r.SetProperty("tarsctl:go:toolchain", bi.GoVersion)
	r.SetProperty("tarsctl:go:main-module", bi.Main.Path)
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS", "GOARCH", "CGO_ENABLED", "vcs.revision", "vcs.time", "vcs.modified", "-trimpath", "-tags":
			r.SetProperty("tarsctl:go:build:"+s.Key, s.Value)
		}
	}
	var missing []string
	for _, d := range bi.Deps {
		real := d
		var c Component
		switch {
		case d.Replace != nil && (d.Replace.Version == "" || d.Replace.Version == "(devel)"):
			// Replaced by a directory: the code has no version of its own.
			c = Component{Type: "library", Ecosystem: Golang, Name: d.Path, PURL: PURL(Golang, d.Path, "")}
			c.SetProperty("tarsctl:go:replaced-by-directory", d.Replace.Path)
			real = &debug.Module{Path: d.Path}
		case d.Replace != nil:
			real = d.Replace
			c = Component{Type: "library", Ecosystem: Golang, Name: real.Path, Version: real.Version, PURL: PURL(Golang, real.Path, real.Version)}
			c.SetProperty("tarsctl:go:replaces", d.Path+"@"+d.Version)
		default:
			c = Component{Type: "library", Ecosystem: Golang, Name: d.Path, Version: d.Version, PURL: PURL(Golang, d.Path, d.Version)}
		}
		if strings.HasPrefix(real.Sum, "h1:") {
			c.SetProperty(PropGoH1, real.Sum)
		}
		c.SetProperty(PropSource, filepath.Base(p))
		c.Ref = componentRef(c)
		inv.Add(c)
		inv.AddDependency(r.Ref, c.Ref)
		if c.Version != "" && !env.licenses.queueGoModule(env.ModCache, c.Ref, real.Path, real.Version) {
			missing = append(missing, real.Path+"@"+real.Version)
		}
	}
	if len(missing) > 0 {
		inv.Warn(fmt.Sprintf("%s: %d module(s) are not in the module cache, so their licenses are unknown: %s", filepath.Base(p), len(missing), strings.Join(missing, ", ")))
	}
	return nil
}

// ErrUnknownFormat is returned for a file that is neither a supported
// lockfile nor a Go binary, or a document in no supported SBOM format.
var ErrUnknownFormat = errors.New("unknown format")

func readManifest(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxManifest {
		return nil, fmt.Errorf("%s: %d bytes, more than the limit of %d", p, fi.Size(), maxManifest)
	}
	data := make([]byte, fi.Size())
	if _, err := readFull(f, data); err != nil && fi.Size() > 0 {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return data, nil
}
