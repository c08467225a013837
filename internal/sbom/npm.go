package sbom

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// npmCataloger reads package-lock.json (lockfileVersion 2 and 3, npm 7 and
// later), whose "packages" map records every installed package with its
// version, integrity, dev flag and dependencies.
type npmCataloger struct{}

var _ Cataloger = npmCataloger{}

func (npmCataloger) Name() string           { return "npm" }
func (npmCataloger) Match(base string) bool { return base == "package-lock.json" }

type npmPackage struct {
	Name                 string            `json:"name"`
	Version              string            `json:"version"`
	Resolved             string            `json:"resolved"`
	Integrity            string            `json:"integrity"`
	License              any               `json:"license"`
	Dev                  bool              `json:"dev"`
	Optional             bool              `json:"optional"`
	DevOptional          bool              `json:"devOptional"`
	Link                 bool              `json:"link"`
	Dependencies         map[string]string `json:"dependencies"`
	OptionalDependencies map[string]string `json:"optionalDependencies"`
	DevDependencies      map[string]string `json:"devDependencies"`
	PeerDependencies     map[string]string `json:"peerDependencies"`
}

type npmLock struct {
	Name            string                `json:"name"`
	Version         string                `json:"version"`
	LockfileVersion int                   `json:"lockfileVersion"`
	Packages        map[string]npmPackage `json:"packages"`
}

// parseNPMLock parses a package-lock.json and checks its version.
func parseNPMLock(data []byte, file string) (*npmLock, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s: empty file", file)
	}
	var lock npmLock
	if err := json.Unmarshal(data, &lock); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	switch {
	case lock.LockfileVersion == 1:
		return nil, fmt.Errorf("%s: lockfileVersion 1 is not supported; regenerate it with npm 7 or later (npm install --lockfile-version 3)", file)
	case lock.LockfileVersion < 1 || lock.LockfileVersion > 3:
		return nil, fmt.Errorf("%s: lockfileVersion %d is not supported (2 and 3 are)", file, lock.LockfileVersion)
	case lock.Packages == nil:
		return nil, fmt.Errorf("%s: no \"packages\" section", file)
	}
	return &lock, nil
}

// npmName is the package name of an install path:
// "node_modules/a/node_modules/@s/b" → "@s/b".
func npmName(key string) string {
	i := strings.LastIndex(key, "node_modules/")
	if i < 0 {
		return ""
	}
	return key[i+len("node_modules/"):]
}

// resolveNPM finds the install path of dependency name as seen from the
// package at from, the way Node's module resolution walks up the tree.
func resolveNPM(pkgs map[string]npmPackage, from, name string) (string, bool) {
	dir := from
	for {
		cand := "node_modules/" + name
		if dir != "" {
			cand = dir + "/node_modules/" + name
		}
		if _, ok := pkgs[cand]; ok {
			return cand, true
		}
		if dir == "" {
			return "", false
		}
		i := strings.LastIndex(dir, "/node_modules/")
		if i < 0 {
			dir = ""
		} else {
			dir = dir[:i]
		}
	}
}

func (npmCataloger) Catalog(_ context.Context, f File, inv *Inventory) error {
	data, err := readManifest(f.Path)
	if err != nil {
		return err
	}
	lock, err := parseNPMLock(data, f.Rel)
	if err != nil {
		return err
	}
	rootPkg := lock.Packages[""]
	parent := inv.Root.Ref
	name := or(rootPkg.Name, lock.Name)
	if f.Top && inv.Root.Ecosystem == "" {
		inv.Root.Ecosystem = NPM
		if inv.Root.Name == "" {
			inv.Root.Name = name
		}
		if inv.Root.Version == "" {
			inv.Root.Version = or(rootPkg.Version, lock.Version)
		}
	} else if name != "" {
		sub := Component{Type: "application", Ecosystem: NPM, Name: name, Version: or(rootPkg.Version, lock.Version)}
		sub.PURL = PURL(NPM, sub.Name, sub.Version)
		sub.SetProperty(PropSource, f.Rel)
		inv.Add(sub)
		parent = componentRef(sub)
		inv.AddDependency(inv.Root.Ref, parent)
	}

	keys := make([]string, 0, len(lock.Packages))
	for k := range lock.Packages {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	refs := map[string]string{} // install path → ref
	for _, k := range keys {
		p := lock.Packages[k]
		n := npmName(k)
		if k == "" || n == "" || p.Link {
			continue // the project itself, a workspace, or a link to one
		}
		if p.Name != "" {
			n = p.Name // an alias install ("foo": "npm:bar@1")
		}
		if p.Version == "" {
			inv.Warn(fmt.Sprintf("%s: %s has no version, so it is left out", f.Rel, k))
			continue
		}
		if p.Dev && f.Env.ExcludeDev {
			continue
		}
		c := Component{Type: "library", Ecosystem: NPM, Name: n, Version: p.Version, PURL: PURL(NPM, n, p.Version), Download: p.Resolved}
		c.Hashes = npmIntegrity(p.Integrity)
		c.Licenses = npmLicense(p.License)
		switch {
		case p.Dev:
			c.Scope = ScopeDev
			c.SetProperty(PropNPMDevelopment, "true")
		case p.Optional || p.DevOptional:
			c.Scope = ScopeOptional
		}
		c.SetProperty(PropSource, f.Rel)
		c.Ref = componentRef(c)
		inv.Add(c)
		refs[k] = c.Ref
	}
	edges := func(from string, fromRef string, p npmPackage, dev bool) {
		for _, deps := range []map[string]string{p.Dependencies, p.OptionalDependencies, p.PeerDependencies, devOnly(p.DevDependencies, dev)} {
			names := make([]string, 0, len(deps))
			for d := range deps {
				names = append(names, d)
			}
			slices.Sort(names)
			for _, d := range names {
				if at, ok := resolveNPM(lock.Packages, from, d); ok {
					if to, ok := refs[at]; ok {
						inv.AddDependency(fromRef, to)
					}
				}
			}
		}
	}
	edges("", parent, rootPkg, true)
	for _, k := range keys {
		if ref, ok := refs[k]; ok {
			edges(k, ref, lock.Packages[k], false)
		}
	}
	return nil
}

// devOnly returns deps when dev is set: only the project's own
// devDependencies are installed, not those of its dependencies.
func devOnly(deps map[string]string, dev bool) map[string]string {
	if dev {
		return deps
	}
	return nil
}

// npmIntegrity decodes a Subresource Integrity value ("sha512-BASE64", maybe
// several separated by spaces) into hex hashes.
func npmIntegrity(s string) []Hash {
	var out []Hash
	for _, part := range strings.Fields(s) {
		alg, b64, ok := strings.Cut(part, "-")
		if !ok {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		var name string
		switch {
		case alg == "sha512" && len(raw) == 64:
			name = SHA512
		case alg == "sha384" && len(raw) == 48:
			name = SHA384
		case alg == "sha256" && len(raw) == 32:
			name = SHA256
		case alg == "sha1" && len(raw) == 20:
			name = SHA1
		default:
			continue
		}
		out = append(out, Hash{Algorithm: name, Value: hex.EncodeToString(raw)})
	}
	return out
}

// npmLicense reads a package's "license": an SPDX expression string, or the
// old {"type": "MIT"} object.
func npmLicense(v any) []string {
	var s string
	switch l := v.(type) {
	case string:
		s = l
	case map[string]any:
		s, _ = l["type"].(string)
	}
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(strings.ToUpper(s), "SEE LICENSE") || strings.EqualFold(s, "UNLICENSED") {
		return nil
	}
	return []string{s}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
