package redisconn_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// goRedis is the import path whose client constructors only this package
// may call.
const goRedis = "github.com/redis/go-redis/v9"

// constructors are go-redis's functions that build a client.
var constructors = []string{"NewClient", "NewFailoverClient", "NewFailoverClusterClient",
	"NewClusterClient", "NewUniversalClient", "NewRing", "NewSentinelClient"}

// findOpeners returns "PATH:LINE: redis.NAME" for every use of a go-redis
// client constructor in the Go files under root, except test files,
// testdata and vendor directories, and the directories in allowed
// (slash-separated, relative to root).
func findOpeners(root string, allowed ...string) ([]string, error) {
	var found []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if name := d.Name(); (strings.HasPrefix(name, ".") && rel != ".") || name == "testdata" || name == "vendor" || slices.Contains(allowed, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		local := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == goRedis {
				local = "redis"
				if imp.Name != nil {
					local = imp.Name.Name
				}
			}
		}
		if local == "" {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var name string
			pos := n
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok && x.Name == local {
					name = n.Sel.Name
				}
			case *ast.Ident:
				// A dot import puts the constructors in the file's scope.
				if local == "." {
					name = n.Name
				}
			}
			if slices.Contains(constructors, name) {
				found = append(found, rel+":"+strconv.Itoa(fset.Position(pos.Pos()).Line)+": redis."+name)
			}
			return true
		})
		return nil
	})
	return found, err
}

// TestOneOpener fails when code outside this package builds a go-redis
// client itself: every Redis user goes through [redisconn.Open] and its
// siblings, so that modes, TLS, credentials and error classification stay
// in one place. Tests and internal/testenv (which starts the servers) may.
func TestOneOpener(t *testing.T) {
	t.Parallel()
	found, err := findOpeners(filepath.Join("..", ".."), "internal/redisconn", "internal/testenv")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Errorf("%s: build Redis clients with internal/redisconn (Open, OpenNode, Connect)", f)
	}
}

// TestFindOpeners shows the check catches a planted client, however the
// package is imported, and leaves tests and allowed directories alone.
func TestFindOpeners(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/m\n",
		"internal/store/store.go": `package store

import r "` + goRedis + `"

func Open() r.UniversalClient {
	return r.NewClusterClient(&r.ClusterOptions{})
}
`,
		"internal/cli/dot.go": `package cli

import . "` + goRedis + `"

var open = NewClient
`,
		"internal/cli/plain.go": `package cli

import "` + goRedis + `"

func Nil() error { return redis.Nil }
`,
		"internal/store/store_test.go": `package store

import "` + goRedis + `"

var _ = redis.NewClient(nil)
`,
		"internal/redisconn/open.go": `package redisconn

import "` + goRedis + `"

var _ = redis.NewFailoverClient
`,
		"internal/other/other.go": `package other

import "example.com/redis"

var _ = redis.NewClient()
`,
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	found, err := findOpeners(root, "internal/redisconn")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"internal/cli/dot.go:5: redis.NewClient", "internal/store/store.go:6: redis.NewClusterClient"}
	if !slices.Equal(found, want) {
		t.Errorf("found %q, want %q", found, want)
	}
	// A file that does not parse is an error, not a pass.
	if err := os.WriteFile(filepath.Join(root, "internal/cli/broken.go"), []byte("package cli\nfunc {"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := findOpeners(root); err == nil {
		t.Error("a file that does not parse passed")
	}
}
