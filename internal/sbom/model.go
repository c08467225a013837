package sbom

import (
	"cmp"
	"slices"
	"strings"
)

// Ecosystem names where a component comes from, as in its package URL type.
type Ecosystem string

// Ecosystems.
const (
	Golang Ecosystem = "golang"
	PyPI   Ecosystem = "pypi"
	NPM    Ecosystem = "npm"
)

// Scope says whether a component is needed at run time.
type Scope string

// Scopes. A development dependency (npm devDependencies, Pipfile develop,
// poetry's dev group) is [ScopeDev]: CycloneDX "excluded", SPDX
// DEV_DEPENDENCY_OF.
const (
	ScopeRequired Scope = "required"
	ScopeOptional Scope = "optional"
	ScopeDev      Scope = "dev"
)

// Hash algorithms, named as CycloneDX names them.
const (
	SHA1   = "SHA-1"
	SHA256 = "SHA-256"
	SHA384 = "SHA-384"
	SHA512 = "SHA-512"
)

// Hash is one digest of a component's distribution file, in lower-case hex.
type Hash struct {
	Algorithm string `json:"alg"`
	Value     string `json:"content"`
}

// Property is a name/value fact about a component.
type Property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Property names tarsctl writes.
const (
	// PropGoH1 is a Go module's go.sum "h1:" dirhash.
	PropGoH1 = "tarsctl:go:h1"
	// PropDependency is "direct" or "transitive".
	PropDependency = "tarsctl:dependency"
	// PropSource is the file a component was found in, relative to the
	// scanned path.
	PropSource = "tarsctl:source"
	// PropNPMDevelopment is CycloneDX's taxonomy name for an npm dev
	// dependency.
	PropNPMDevelopment = "cdx:npm:package:development"
)

// Component is one package in an inventory.
type Component struct {
	// Ref identifies the component inside one document: its package URL,
	// or "<ecosystem>:<name>@<version>" when it has none.
	Ref       string
	Type      string // "application" or "library"
	Ecosystem Ecosystem
	Name      string
	Version   string
	PURL      string
	Hashes    []Hash
	// Licenses are SPDX license ids (or an expression).
	Licenses   []string
	Scope      Scope
	Properties []Property
	// Download is where the package was fetched from, when the lockfile
	// says.
	Download string
}

// Property returns the value of the named property.
func (c *Component) Property(name string) (string, bool) {
	for _, p := range c.Properties {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// SetProperty sets a property, replacing an earlier value.
func (c *Component) SetProperty(name, value string) {
	for i := range c.Properties {
		if c.Properties[i].Name == name {
			c.Properties[i].Value = value
			return
		}
	}
	c.Properties = append(c.Properties, Property{Name: name, Value: value})
}

// Inventory is what catalogers found: a root component, its components and
// the dependency edges between them, by [Component.Ref].
type Inventory struct {
	Root       Component
	Components []Component
	// Dependencies maps a ref to the refs it depends on. The root's entry
	// lists the direct dependencies.
	Dependencies map[string][]string
	// Warnings are what could not be known offline (a module missing from
	// the module cache, an unpinned requirement), for the command to show.
	Warnings []string
}

// NewInventory returns an empty inventory rooted at root.
func NewInventory(root Component) *Inventory {
	if root.Ref == "" {
		root.Ref = rootRef(root)
	}
	return &Inventory{Root: root, Dependencies: map[string][]string{}}
}

func rootRef(c Component) string {
	if c.PURL != "" {
		return c.PURL
	}
	v := c.Version
	if v == "" {
		v = "unversioned"
	}
	return "root:" + c.Name + "@" + v
}

// Lookup returns the component with ref, or nil.
func (inv *Inventory) Lookup(ref string) *Component {
	if ref == inv.Root.Ref {
		return &inv.Root
	}
	for i := range inv.Components {
		if inv.Components[i].Ref == ref {
			return &inv.Components[i]
		}
	}
	return nil
}

// Add adds c, or merges it into the component with the same ref: hashes,
// licenses and properties are united, and a runtime scope wins over dev.
func (inv *Inventory) Add(c Component) {
	if c.Ref == "" {
		c.Ref = componentRef(c)
	}
	if old := inv.Lookup(c.Ref); old != nil {
		mergeComponent(old, c)
		return
	}
	inv.Components = append(inv.Components, c)
}

// AddDependency records that from depends on to.
func (inv *Inventory) AddDependency(from, to string) {
	if from == to {
		return
	}
	if !slices.Contains(inv.Dependencies[from], to) {
		inv.Dependencies[from] = append(inv.Dependencies[from], to)
	}
}

// Warn records something that could not be known.
func (inv *Inventory) Warn(msg string) {
	if !slices.Contains(inv.Warnings, msg) {
		inv.Warnings = append(inv.Warnings, msg)
	}
}

func componentRef(c Component) string {
	if c.PURL != "" {
		return c.PURL
	}
	return string(c.Ecosystem) + ":" + c.Name + "@" + c.Version
}

func mergeComponent(dst *Component, src Component) {
	for _, h := range src.Hashes {
		if !slices.Contains(dst.Hashes, h) {
			dst.Hashes = append(dst.Hashes, h)
		}
	}
	for _, l := range src.Licenses {
		if !slices.Contains(dst.Licenses, l) {
			dst.Licenses = append(dst.Licenses, l)
		}
	}
	for _, p := range src.Properties {
		if _, ok := dst.Property(p.Name); !ok {
			dst.Properties = append(dst.Properties, p)
		}
	}
	if dst.Scope == ScopeDev && src.Scope != ScopeDev {
		dst.Scope = src.Scope
	}
	if dst.Download == "" {
		dst.Download = src.Download
	}
}

// Normalize sorts everything, drops dangling edges, marks each component
// direct or transitive, and attaches components no edge reaches to the root,
// so consumers see one connected graph.
func (inv *Inventory) Normalize() {
	slices.SortFunc(inv.Components, func(a, b Component) int { return cmp.Compare(a.Ref, b.Ref) })
	inv.Components = slices.CompactFunc(inv.Components, func(a, b Component) bool { return a.Ref == b.Ref })
	known := map[string]bool{inv.Root.Ref: true}
	for _, c := range inv.Components {
		known[c.Ref] = true
	}
	for from, tos := range inv.Dependencies {
		if !known[from] {
			delete(inv.Dependencies, from)
			continue
		}
		tos = slices.DeleteFunc(slices.Clone(tos), func(t string) bool { return !known[t] || t == from })
		slices.Sort(tos)
		inv.Dependencies[from] = slices.Compact(tos)
	}
	// Reachability from the root; anything unreached hangs off the root.
	reached := map[string]bool{inv.Root.Ref: true}
	var walk func(string)
	walk = func(ref string) {
		for _, t := range inv.Dependencies[ref] {
			if !reached[t] {
				reached[t] = true
				walk(t)
			}
		}
	}
	walk(inv.Root.Ref)
	// Direct dependencies are what the catalogers said; components attached
	// below only because no edge reached them stay transitive.
	direct := map[string]bool{}
	for _, t := range inv.Dependencies[inv.Root.Ref] {
		direct[t] = true
	}
	for _, c := range inv.Components {
		if !reached[c.Ref] {
			inv.AddDependency(inv.Root.Ref, c.Ref)
			reached[c.Ref] = true
			walk(c.Ref)
		}
	}
	slices.Sort(inv.Dependencies[inv.Root.Ref])
	for i := range inv.Components {
		c := &inv.Components[i]
		if direct[c.Ref] {
			c.SetProperty(PropDependency, "direct")
		} else {
			c.SetProperty(PropDependency, "transitive")
		}
		sortComponent(c)
	}
	sortComponent(&inv.Root)
	slices.Sort(inv.Warnings)
}

func sortComponent(c *Component) {
	slices.SortFunc(c.Hashes, func(a, b Hash) int {
		return cmp.Or(cmp.Compare(a.Algorithm, b.Algorithm), cmp.Compare(a.Value, b.Value))
	})
	slices.Sort(c.Licenses)
	c.Licenses = slices.Compact(c.Licenses)
	slices.SortFunc(c.Properties, func(a, b Property) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Value, b.Value))
	})
}

// NormalizePyPI normalises a Python package name as PEP 503 says: runs of
// "-", "_" and "." become one "-", and the name is lower-cased.
func NormalizePyPI(name string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.TrimSpace(name) {
		if r == '-' || r == '_' || r == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}
