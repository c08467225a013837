package sbom

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/google/licensecheck"
	"golang.org/x/mod/module"
)

// minLicenseCoverage is how much of a license file must match known license
// texts before we name its license: below it, the file has extra terms that
// an SPDX id would misrepresent.
const minLicenseCoverage = 75

// maxLicenseFile caps how much of a license file is scanned.
const maxLicenseFile = 256 << 10

// licenseFileNames are checked, case-insensitively, in a module's root.
var licenseFileNames = []string{"license", "license.md", "license.txt", "licence", "licence.md", "licence.txt", "copying", "copying.md", "copying.txt", "license-mit", "license-apache", "unlicense"}

// licenseCache finds Go modules' licenses in the module cache. Catalogers
// queue components; apply scans every module directory once, in parallel.
type licenseCache struct {
	mu    sync.Mutex
	queue map[string]string // component ref → module directory
}

func newLicenseCache() *licenseCache { return &licenseCache{queue: map[string]string{}} }

// queueGoModule asks for the license of module path@version, found in dir
// modCache.
func (lc *licenseCache) queueGoModule(modCache, ref, path, version string) bool {
	if modCache == "" {
		return false
	}
	ep, err1 := module.EscapePath(path)
	ev, err2 := module.EscapeVersion(version)
	if err1 != nil || err2 != nil {
		return false
	}
	dir := filepath.Join(modCache, filepath.FromSlash(ep)+"@"+ev)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return false
	}
	lc.mu.Lock()
	lc.queue[ref] = dir
	lc.mu.Unlock()
	return true
}

func (lc *licenseCache) apply(ctx context.Context, inv *Inventory) error {
	refs := make([]string, 0, len(lc.queue))
	for r := range lc.queue {
		refs = append(refs, r)
	}
	slices.Sort(refs)
	found := make([][]string, len(refs))
	work := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				found[i] = DetectLicenses(lc.queue[refs[i]])
			}
		}()
	}
	for i := range refs {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, ref := range refs {
		if c := inv.Lookup(ref); c != nil && len(found[i]) > 0 {
			c.Licenses = found[i]
		}
	}
	return nil
}

// DetectLicenses identifies the licenses of the license files in dir as SPDX
// ids. It returns nil when there is no license file or its text does not
// match known licenses closely enough.
func DetectLicenses(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() || !slices.Contains(licenseFileNames, strings.ToLower(e.Name())) {
			continue
		}
		for _, id := range licenseIDs(filepath.Join(dir, e.Name())) {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

func licenseIDs(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	buf := make([]byte, maxLicenseFile)
	n, _ := readFull(f, buf)
	cov := commonScanner().Scan(buf[:n])
	if cov.Percent < minLicenseCoverage {
		// Not one of the common licenses: pay for the full list.
		cov = licensecheck.Scan(buf[:n])
	}
	if cov.Percent < minLicenseCoverage {
		return nil
	}
	var ids []string
	for _, m := range cov.Match {
		if m.IsURL || strings.HasPrefix(m.ID, "License-") {
			continue
		}
		if !slices.Contains(ids, m.ID) {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// commonLicenses are the licenses most Go, npm and Python packages use.
// Compiling licensecheck's full list of 500-odd licenses takes about two
// seconds, which would dominate an SBOM run; this short list compiles in a
// few milliseconds and the full list is compiled only for a license file it
// does not cover.
var commonLicenses = []string{
	"0BSD", "AGPL-3.0", "Apache-2.0", "BSD-2-Clause", "BSD-2-Clause-Views", "BSD-3-Clause", "BSD-3-Clause-Clear",
	"BSL-1.0", "CC0-1.0", "CC-BY-4.0", "EPL-2.0", "GPL-2.0", "GPL-3.0", "ISC", "LGPL-2.1", "LGPL-3.0",
	"MIT", "MIT-0", "MPL-2.0", "Python-2.0", "Unlicense", "Zlib",
}

var (
	commonOnce           sync.Once
	commonLicenseScanner *licensecheck.Scanner
)

func commonScanner() *licensecheck.Scanner {
	commonOnce.Do(func() {
		var ls []licensecheck.License
		for _, l := range licensecheck.BuiltinLicenses() {
			if slices.Contains(commonLicenses, l.ID) {
				ls = append(ls, l)
			}
		}
		s, err := licensecheck.NewScanner(ls)
		if err != nil {
			panic("licensecheck: built-in licenses do not compile: " + err.Error()) // cannot happen: they are licensecheck's own
		}
		commonLicenseScanner = s
	})
	return commonLicenseScanner
}

func readFull(f *os.File, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
