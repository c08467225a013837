// Command gen-docs writes tarsctl's command reference (docs/cli), man pages
// (docs/man) and shell completions (completions/) from the real command
// tree, and the Helm chart's daemon lists from the service catalog. `make docs completions` runs it; a test fails when the committed
// files are stale.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/docgen"
)

func main() {
	rootDir := flag.String("root", ".", "repository root to write into")
	flag.Parse()
	if err := run(*rootDir); err != nil {
		fmt.Fprintln(os.Stderr, "gen-docs:", err)
		os.Exit(1)
	}
}

func run(rootDir string) error {
	files, err := docgen.Generate()
	if err != nil {
		return err
	}
	// Remove files that are no longer generated (a deleted command).
	for _, dir := range docgen.Dirs {
		entries, err := os.ReadDir(filepath.Join(rootDir, dir))
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		for _, e := range entries {
			rel := filepath.ToSlash(filepath.Join(dir, e.Name()))
			if _, keep := files[rel]; !keep && !e.IsDir() {
				if err := os.Remove(filepath.Join(rootDir, rel)); err != nil {
					return err
				}
			}
		}
	}
	for rel, data := range files {
		path := filepath.Join(rootDir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(path, data, atomicfile.Options{Perm: 0o644}); err != nil {
			return err
		}
	}
	fmt.Printf("gen-docs: wrote %d files under %s\n", len(files), rootDir)
	return nil
}
