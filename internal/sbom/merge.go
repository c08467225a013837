package sbom

import (
	"cmp"
	"slices"
	"strings"
)

// Merge combines the inventories of several artifacts into one rooted at
// root: each input's root becomes a direct dependency of the new root,
// components with the same ref are merged into one (hashes, licenses and
// properties united), and every dependency edge is kept.
func Merge(root Component, invs ...*Inventory) *Inventory {
	out := NewInventory(root)
	for _, in := range invs {
		r := in.Root
		if r.Type == "" {
			r.Type = "application"
		}
		out.Add(r)
		out.AddDependency(out.Root.Ref, r.Ref)
		for _, c := range in.Components {
			out.Add(c)
		}
		for from, tos := range in.Dependencies {
			for _, to := range tos {
				out.AddDependency(from, to)
			}
		}
		for _, w := range in.Warnings {
			out.Warn(w)
		}
	}
	// Whether a component is direct is recomputed for the merged graph.
	for i := range out.Components {
		out.Components[i].Properties = slices.DeleteFunc(out.Components[i].Properties, func(p Property) bool { return p.Name == PropDependency })
	}
	out.Normalize()
	return out
}

// Change is a component whose version differs between two SBOMs.
type Change struct {
	Ecosystem  Ecosystem `json:"ecosystem"`
	Name       string    `json:"name"`
	OldVersion string    `json:"old_version"`
	NewVersion string    `json:"new_version"`
}

// DiffEntry is a component only one SBOM has.
type DiffEntry struct {
	Ecosystem Ecosystem `json:"ecosystem"`
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	PURL      string    `json:"purl,omitempty"`
}

// DiffResult lists what changed from an old SBOM to a new one.
type DiffResult struct {
	Added   []DiffEntry `json:"added"`
	Removed []DiffEntry `json:"removed"`
	Changed []Change    `json:"changed"`
}

// Empty reports whether the SBOMs list the same components.
func (d *DiffResult) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

// Diff compares the components of two inventories by ecosystem and name
// (PEP 503-normalised for Python), ignoring their roots. A name whose
// versions differ is a change, "1.0, 1.1" when several versions of it are
// present.
func Diff(old, new *Inventory) *DiffResult {
	type key struct {
		eco  Ecosystem
		name string
	}
	index := func(inv *Inventory) (map[key][]string, map[key]Component) {
		vs := map[key][]string{}
		first := map[key]Component{}
		for _, c := range inv.Components {
			name := c.Name
			if c.Ecosystem == PyPI {
				name = NormalizePyPI(name)
			}
			k := key{c.Ecosystem, name}
			if !slices.Contains(vs[k], c.Version) {
				vs[k] = append(vs[k], c.Version)
			}
			if _, ok := first[k]; !ok {
				first[k] = c
			}
		}
		for k := range vs {
			slices.Sort(vs[k])
		}
		return vs, first
	}
	ov, oc := index(old)
	nv, nc := index(new)
	res := &DiffResult{Added: []DiffEntry{}, Removed: []DiffEntry{}, Changed: []Change{}}
	for k, vs := range nv {
		o, ok := ov[k]
		switch {
		case !ok:
			c := nc[k]
			for _, v := range vs {
				res.Added = append(res.Added, DiffEntry{Ecosystem: k.eco, Name: k.name, Version: v, PURL: purlFor(c, v)})
			}
		case !slices.Equal(o, vs):
			res.Changed = append(res.Changed, Change{Ecosystem: k.eco, Name: k.name, OldVersion: strings.Join(o, ", "), NewVersion: strings.Join(vs, ", ")})
		}
	}
	for k, vs := range ov {
		if _, ok := nv[k]; !ok {
			c := oc[k]
			for _, v := range vs {
				res.Removed = append(res.Removed, DiffEntry{Ecosystem: k.eco, Name: k.name, Version: v, PURL: purlFor(c, v)})
			}
		}
	}
	byName := func(a, b DiffEntry) int {
		return cmp.Or(cmp.Compare(a.Ecosystem, b.Ecosystem), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	}
	slices.SortFunc(res.Added, byName)
	slices.SortFunc(res.Removed, byName)
	slices.SortFunc(res.Changed, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Ecosystem, b.Ecosystem), cmp.Compare(a.Name, b.Name))
	})
	return res
}

func purlFor(c Component, version string) string {
	if c.Version == version {
		return c.PURL
	}
	return ""
}
