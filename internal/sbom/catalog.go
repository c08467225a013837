package sbom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Cataloger finds components in one kind of file.
//
// Catalog may be called for several files of its kind in one scan, one at a
// time. It adds components and edges to inv; edges from inv.Root.Ref mark
// direct dependencies. It records what it cannot know offline with
// inv.Warn and returns an error only for a file it cannot read or parse,
// naming the file and, where it can, the line.
type Cataloger interface {
	// Name is a short name for messages ("go-module", "npm").
	Name() string
	// Match reports whether a file with this base name is one to read.
	Match(base string) bool
	Catalog(ctx context.Context, f File, inv *Inventory) error
}

// File is one input to a [Cataloger].
type File struct {
	// Path is the file's path; Rel is the same path relative to the scanned
	// directory, with forward slashes, as written into the SBOM.
	Path string
	Rel  string
	// Top reports whether the file is at the top of the scan: its direct
	// dependencies are the root's.
	Top bool
	Env *Env
}

// Env is what catalogers share during one scan.
type Env struct {
	// ModCache is the Go module cache directory ("" when unknown).
	ModCache string
	// ExcludeDev leaves development dependencies out.
	ExcludeDev bool
	licenses   *licenseCache
}

// Options configure [Catalog].
type Options struct {
	// Path is a directory to scan, or one file: a lockfile or a Go binary.
	Path string
	// Name and Version name the root component; when empty they come from
	// what is scanned (a go.mod's module path, a binary's main module, a
	// package-lock's name), else from the directory name and "unversioned".
	Name    string
	Version string
	// ModCache is the Go module cache; see [ModCacheDir].
	ModCache   string
	ExcludeDev bool
	// Catalogers default to [DefaultCatalogers].
	Catalogers []Cataloger
}

// DefaultCatalogers returns every cataloger.
func DefaultCatalogers() []Cataloger {
	return []Cataloger{goModCataloger{}, requirementsCataloger{}, poetryCataloger{}, pipfileCataloger{}, npmCataloger{}}
}

// ErrNothingFound is returned when a scan finds nothing to inventory.
var ErrNothingFound = errors.New("no supported manifests, lockfiles or Go binaries found")

// skipDirs are not scanned: VCS metadata, vendored or installed copies of
// dependencies (their lockfiles are not the project's), and test fixtures.
var skipDirs = map[string]bool{
	".git": true, ".hg": true, ".svn": true, "node_modules": true, "vendor": true,
	"testdata": true, ".venv": true, "venv": true, "__pycache__": true, "dist": true, "bin": true,
}

// maxScanDepth bounds the directory walk.
const maxScanDepth = 6

// Catalog inventories opts.Path with every matching cataloger and returns
// the normalised inventory.
func Catalog(ctx context.Context, opts Options) (*Inventory, error) {
	cats := opts.Catalogers
	if cats == nil {
		cats = DefaultCatalogers()
	}
	env := &Env{ModCache: opts.ModCache, ExcludeDev: opts.ExcludeDev, licenses: newLicenseCache()}
	fi, err := os.Stat(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}

	inv := NewInventory(Component{Type: "application", Name: opts.Name, Version: opts.Version})
	var files []File
	var binary string
	if !fi.IsDir() {
		base := filepath.Base(opts.Path)
		files = []File{{Path: opts.Path, Rel: base, Top: true, Env: env}}
		if !slices.ContainsFunc(cats, func(c Cataloger) bool { return c.Match(base) }) {
			binary = opts.Path
		}
	} else {
		files, err = findFiles(ctx, opts.Path, cats, env)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: %w", opts.Path, ErrNothingFound)
		}
	}

	if binary != "" {
		if err := catalogBinary(ctx, binary, inv, env); err != nil {
			return nil, err
		}
	} else {
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			for _, c := range cats {
				if c.Match(filepath.Base(f.Path)) {
					if err := c.Catalog(ctx, f, inv); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	if err := env.licenses.apply(ctx, inv); err != nil {
		return nil, err
	}
	finishRoot(inv, opts, fi.IsDir())
	inv.Normalize()
	return inv, nil
}

// finishRoot names the root component from the options, else from what the
// catalogers found, else from the directory.
func finishRoot(inv *Inventory, opts Options, isDir bool) {
	r := &inv.Root
	if opts.Name != "" {
		r.Name = opts.Name
	}
	if opts.Version != "" {
		r.Version = opts.Version
	}
	if r.Name == "" {
		p, _ := filepath.Abs(opts.Path)
		if !isDir {
			p = strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		}
		r.Name = filepath.Base(p)
	}
	if r.Version == "" {
		r.Version = "unversioned"
	}
	if r.Ecosystem != "" && r.PURL == "" && r.Version != "unversioned" {
		name, _ := r.Property("tarsctl:purl-name")
		if name == "" {
			name = r.Name
		}
		r.PURL = PURL(r.Ecosystem, name, r.Version)
	}
	r.Properties = slices.DeleteFunc(r.Properties, func(p Property) bool { return p.Name == "tarsctl:purl-name" })
	// Edges were recorded from the placeholder ref; move them.
	newRef := rootRef(*r)
	if newRef != r.Ref {
		if deps, ok := inv.Dependencies[r.Ref]; ok {
			delete(inv.Dependencies, r.Ref)
			inv.Dependencies[newRef] = deps
		}
		r.Ref = newRef
	}
}

func findFiles(ctx context.Context, root string, cats []Cataloger, env *Env) ([]File, error) {
	var files []File
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			return nil // an unreadable subdirectory is not ours to fail on
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if path != root && (skipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			if strings.Count(rel, "/") >= maxScanDepth {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		for _, c := range cats {
			if c.Match(d.Name()) {
				files = append(files, File{Path: path, Rel: rel, Top: !strings.Contains(rel, "/"), Env: env})
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	return files, nil
}

// ModCacheDir returns the Go module cache directory as the go command would
// find it from the environment: $GOMODCACHE, else the first $GOPATH entry's
// pkg/mod, else $HOME/go/pkg/mod. It does not run go.
func ModCacheDir(getenv func(string) string) string {
	if d := getenv("GOMODCACHE"); d != "" {
		return d
	}
	if gp := getenv("GOPATH"); gp != "" {
		return filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, "go", "pkg", "mod")
	}
	return ""
}

// utf8Text reports whether data looks like text: no NUL bytes.
func utf8Text(data []byte) bool { return !bytes.Contains(data, []byte{0}) }
