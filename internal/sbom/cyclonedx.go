package sbom

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// CycloneDX spec versions tarsctl writes.
const (
	CycloneDX17 = "1.7"
	CycloneDX16 = "1.6"
	// DefaultCycloneDXVersion is written unless asked otherwise.
	DefaultCycloneDXVersion = CycloneDX17
)

// Tool names the program that made a document.
type Tool struct {
	Name    string
	Version string
}

// WriteOptions are the document-level facts of a written SBOM.
type WriteOptions struct {
	// Timestamp is when the SBOM was made; SOURCE_DATE_EPOCH for
	// reproducible output.
	Timestamp time.Time
	Tool      Tool
	// SpecVersion is the CycloneDX version, "1.7" (default) or "1.6".
	SpecVersion string
}

func cdxSpecVersion(v string) (cdx.SpecVersion, error) {
	switch v {
	case "", CycloneDX17:
		return cdx.SpecVersion1_7, nil
	case CycloneDX16:
		return cdx.SpecVersion1_6, nil
	}
	return 0, fmt.Errorf("CycloneDX spec version %q: %w (1.7 and 1.6 are)", v, ErrUnknownFormat)
}

// WriteCycloneDX writes inv as a CycloneDX JSON document.
func WriteCycloneDX(w io.Writer, inv *Inventory, opts WriteOptions) error {
	sv, err := cdxSpecVersion(opts.SpecVersion)
	if err != nil {
		return err
	}
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + contentUUID(inv, opts, "cyclonedx")
	tool := cdx.Component{Type: cdx.ComponentTypeApplication, Name: opts.Tool.Name, Version: opts.Tool.Version}
	root := cdxComponent(inv.Root)
	bom.Metadata = &cdx.Metadata{
		Timestamp: opts.Timestamp.UTC().Format(time.RFC3339),
		Tools:     &cdx.ToolsChoice{Components: &[]cdx.Component{tool}},
		Component: &root,
	}
	comps := make([]cdx.Component, 0, len(inv.Components))
	for _, c := range inv.Components {
		comps = append(comps, cdxComponent(c))
	}
	bom.Components = &comps
	deps := make([]cdx.Dependency, 0, len(inv.Components)+1)
	for _, ref := range append([]string{inv.Root.Ref}, refs(inv.Components)...) {
		d := cdx.Dependency{Ref: ref}
		if to := inv.Dependencies[ref]; len(to) > 0 {
			to := slices.Clone(to)
			d.Dependencies = &to
		}
		deps = append(deps, d)
	}
	bom.Dependencies = &deps
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, sv); err != nil {
		return fmt.Errorf("encode CycloneDX: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

func refs(cs []Component) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Ref
	}
	return out
}

func cdxComponent(c Component) cdx.Component {
	typ := cdx.ComponentTypeLibrary
	if c.Type == "application" {
		typ = cdx.ComponentTypeApplication
	}
	out := cdx.Component{BOMRef: c.Ref, Type: typ, Name: c.Name, Version: c.Version, PackageURL: c.PURL}
	if c.Ecosystem == NPM && strings.HasPrefix(c.Name, "@") {
		if scope, name, ok := strings.Cut(c.Name, "/"); ok {
			out.Group, out.Name = scope, name
		}
	}
	switch c.Scope {
	case ScopeDev:
		out.Scope = cdx.ScopeExcluded
	case ScopeOptional:
		out.Scope = cdx.ScopeOptional
	}
	if len(c.Hashes) > 0 {
		hs := make([]cdx.Hash, 0, len(c.Hashes))
		for _, h := range c.Hashes {
			hs = append(hs, cdx.Hash{Algorithm: cdx.HashAlgorithm(h.Algorithm), Value: h.Value})
		}
		out.Hashes = &hs
	}
	if len(c.Licenses) > 0 {
		ls := make(cdx.Licenses, 0, len(c.Licenses))
		for _, l := range c.Licenses {
			switch {
			case IsSPDXLicenseID(l):
				ls = append(ls, cdx.LicenseChoice{License: &cdx.License{ID: l}})
			case isLicenseExpression(l):
				ls = append(ls, cdx.LicenseChoice{Expression: l})
			default:
				ls = append(ls, cdx.LicenseChoice{License: &cdx.License{Name: l}})
			}
		}
		// CycloneDX allows several licenses or one expression, not both.
		if len(ls) > 1 && slices.ContainsFunc(ls, func(l cdx.LicenseChoice) bool { return l.Expression != "" }) {
			ls = cdx.Licenses{{Expression: "(" + strings.Join(c.Licenses, ") AND (") + ")"}}
		}
		out.Licenses = &ls
	}
	if len(c.Properties) > 0 {
		ps := make([]cdx.Property, 0, len(c.Properties))
		for _, p := range c.Properties {
			ps = append(ps, cdx.Property{Name: p.Name, Value: p.Value})
		}
		out.Properties = &ps
	}
	if c.Download != "" {
		out.ExternalReferences = &[]cdx.ExternalReference{{Type: cdx.ERTypeDistribution, URL: c.Download}}
	}
	return out
}

func isLicenseExpression(s string) bool {
	return strings.Contains(s, " OR ") || strings.Contains(s, " AND ") || strings.Contains(s, " WITH ") || strings.HasPrefix(s, "(")
}

// ReadCycloneDX reads a CycloneDX JSON document into an inventory.
func ReadCycloneDX(r io.Reader) (*Inventory, error) {
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(r, cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		return nil, fmt.Errorf("decode CycloneDX: %w", err)
	}
	if bom.BOMFormat != cdx.BOMFormat {
		return nil, fmt.Errorf("%w: bomFormat is %q, not CycloneDX", ErrUnknownFormat, bom.BOMFormat)
	}
	var root Component
	if bom.Metadata != nil && bom.Metadata.Component != nil {
		root = fromCDX(*bom.Metadata.Component)
	}
	inv := NewInventory(root)
	var walk func([]cdx.Component)
	walk = func(cs []cdx.Component) {
		for _, c := range cs {
			inv.Add(fromCDX(c))
			if c.Components != nil {
				walk(*c.Components)
			}
		}
	}
	if bom.Components != nil {
		walk(*bom.Components)
	}
	if bom.Dependencies != nil {
		for _, d := range *bom.Dependencies {
			if d.Dependencies != nil {
				for _, to := range *d.Dependencies {
					inv.AddDependency(d.Ref, to)
				}
			}
		}
	}
	return inv, nil
}

func fromCDX(c cdx.Component) Component {
	out := Component{Ref: c.BOMRef, Type: string(c.Type), Name: c.Name, Version: c.Version, PURL: c.PackageURL}
	if c.Group != "" {
		out.Name = c.Group + "/" + c.Name
		if !strings.HasPrefix(c.Group, "@") && !strings.HasPrefix(c.PackageURL, "pkg:npm/") {
			out.Name = c.Group + "." + c.Name
		}
	}
	out.Ecosystem = ecosystemOf(c.PackageURL)
	switch c.Scope {
	case cdx.ScopeExcluded:
		out.Scope = ScopeDev
	case cdx.ScopeOptional:
		out.Scope = ScopeOptional
	}
	if c.Hashes != nil {
		for _, h := range *c.Hashes {
			out.Hashes = append(out.Hashes, Hash{Algorithm: string(h.Algorithm), Value: strings.ToLower(h.Value)})
		}
	}
	if c.Licenses != nil {
		for _, l := range *c.Licenses {
			switch {
			case l.Expression != "":
				out.Licenses = append(out.Licenses, l.Expression)
			case l.License != nil && l.License.ID != "":
				out.Licenses = append(out.Licenses, l.License.ID)
			case l.License != nil && l.License.Name != "":
				out.Licenses = append(out.Licenses, l.License.Name)
			}
		}
	}
	if c.Properties != nil {
		for _, p := range *c.Properties {
			out.Properties = append(out.Properties, Property(p))
		}
	}
	if c.ExternalReferences != nil {
		for _, e := range *c.ExternalReferences {
			if e.Type == cdx.ERTypeDistribution {
				out.Download = e.URL
			}
		}
	}
	if out.Ref == "" {
		out.Ref = componentRef(out)
	}
	return out
}

// ecosystemOf returns the package URL's type.
func ecosystemOf(purl string) Ecosystem {
	rest, ok := strings.CutPrefix(purl, "pkg:")
	if !ok {
		return ""
	}
	t, _, _ := strings.Cut(rest, "/")
	return Ecosystem(strings.ToLower(t))
}
