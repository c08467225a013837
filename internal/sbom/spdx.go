package sbom

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"
	v23 "github.com/spdx/tools-golang/spdx/v2/v2_3"
)

// SPDXNamespaceBase prefixes the documentNamespace of the SPDX documents
// tarsctl writes; a content-derived UUID makes each unique.
const SPDXNamespaceBase = "https://github.com/tars-ops/tarsctl/spdx/"

const noAssertion = "NOASSERTION"

var spdxIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// spdxIDs assigns each component a unique, stable SPDX element id.
func spdxIDs(inv *Inventory) map[string]common.ElementID {
	ids := map[string]common.ElementID{}
	used := map[common.ElementID]bool{}
	assign := func(c Component, prefix string) {
		base := prefix + strings.Trim(spdxIDUnsafe.ReplaceAllString(c.Name, "-"), "-")
		if c.Version != "" {
			base += "-" + strings.Trim(spdxIDUnsafe.ReplaceAllString(c.Version, "-"), "-")
		}
		id := common.ElementID(base)
		for n := 2; used[id]; n++ {
			id = common.ElementID(fmt.Sprintf("%s-%d", base, n))
		}
		used[id] = true
		ids[c.Ref] = id
	}
	assign(inv.Root, "Package-root-")
	for _, c := range inv.Components {
		assign(c, "Package-"+string(c.Ecosystem)+"-")
	}
	return ids
}

var spdxChecksum = map[string]common.ChecksumAlgorithm{SHA1: common.SHA1, SHA256: common.SHA256, SHA384: common.SHA384, SHA512: common.SHA512}

// WriteSPDX writes inv as an SPDX 2.3 JSON document.
func WriteSPDX(w io.Writer, inv *Inventory, opts WriteOptions) error {
	ids := spdxIDs(inv)
	name := inv.Root.Name + "-" + inv.Root.Version
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: SPDXNamespaceBase + name + "-" + contentUUID(inv, opts, "spdx"),
		CreationInfo: &v23.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: opts.Tool.Name + "-" + opts.Tool.Version}},
			Created:  opts.Timestamp.UTC().Format(time.RFC3339),
		},
	}
	doc.Packages = append(doc.Packages, spdxPackage(inv.Root, ids[inv.Root.Ref]))
	for _, c := range inv.Components {
		doc.Packages = append(doc.Packages, spdxPackage(c, ids[c.Ref]))
	}
	rel := func(a, b common.ElementID, typ string) *v23.Relationship {
		return &v23.Relationship{RefA: common.MakeDocElementID("", string(a)), RefB: common.MakeDocElementID("", string(b)), Relationship: typ}
	}
	doc.Relationships = append(doc.Relationships, rel("DOCUMENT", ids[inv.Root.Ref], common.TypeRelationshipDescribe))
	for _, from := range append([]string{inv.Root.Ref}, refs(inv.Components)...) {
		for _, to := range inv.Dependencies[from] {
			c := inv.Lookup(to)
			switch {
			case c != nil && c.Scope == ScopeDev:
				doc.Relationships = append(doc.Relationships, rel(ids[to], ids[from], "DEV_DEPENDENCY_OF"))
			case c != nil && c.Scope == ScopeOptional:
				doc.Relationships = append(doc.Relationships, rel(ids[to], ids[from], "OPTIONAL_DEPENDENCY_OF"))
			default:
				doc.Relationships = append(doc.Relationships, rel(ids[from], ids[to], "DEPENDS_ON"))
			}
		}
	}
	var buf bytes.Buffer
	if err := spdxjson.Write(doc, &buf, spdxjson.Indent("  "), spdxjson.EscapeHTML(false)); err != nil {
		return fmt.Errorf("encode SPDX: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func spdxPackage(c Component, id common.ElementID) *v23.Package {
	p := &v23.Package{
		PackageName:               c.Name,
		PackageSPDXIdentifier:     id,
		PackageVersion:            c.Version,
		PackageDownloadLocation:   or(c.Download, noAssertion),
		FilesAnalyzed:             false,
		IsFilesAnalyzedTagPresent: true,
		PackageLicenseConcluded:   noAssertion,
		PackageLicenseDeclared:    spdxLicense(c.Licenses),
		PackageCopyrightText:      noAssertion,
		PrimaryPackagePurpose:     strings.ToUpper(or(c.Type, "library")),
	}
	for _, h := range c.Hashes {
		if alg, ok := spdxChecksum[h.Algorithm]; ok {
			p.PackageChecksums = append(p.PackageChecksums, common.Checksum{Algorithm: alg, Value: h.Value})
		}
	}
	if c.PURL != "" {
		p.PackageExternalReferences = []*v23.PackageExternalReference{{Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL, Locator: c.PURL}}
	}
	// SPDX packages have no properties; keep tarsctl's as "name=value"
	// lines of the comment, which ReadSPDX reads back.
	var lines []string
	for _, pr := range c.Properties {
		lines = append(lines, pr.Name+"="+pr.Value)
	}
	if len(c.Licenses) > 0 && p.PackageLicenseDeclared == noAssertion {
		lines = append(lines, "tarsctl:license="+strings.Join(c.Licenses, " AND "))
	}
	p.PackageComment = strings.Join(lines, "\n")
	return p
}

// spdxLicense is the licenseDeclared value: the ids joined with AND when
// every one is an SPDX id or expression, else NOASSERTION.
func spdxLicense(ls []string) string {
	if len(ls) == 0 {
		return noAssertion
	}
	for _, l := range ls {
		if !IsSPDXLicenseID(l) && !isLicenseExpression(l) {
			return noAssertion
		}
	}
	if len(ls) == 1 {
		return ls[0]
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l
		if isLicenseExpression(l) {
			parts[i] = "(" + l + ")"
		}
	}
	return strings.Join(parts, " AND ")
}

// ReadSPDX reads an SPDX JSON document (2.1 to 2.3) into an inventory. The
// root is the package the document DESCRIBES.
func ReadSPDX(r io.Reader) (*Inventory, error) {
	doc, err := spdxjson.Read(r)
	if err != nil {
		return nil, fmt.Errorf("decode SPDX: %w", err)
	}
	refOf := map[common.ElementID]string{}
	comps := map[common.ElementID]Component{}
	for _, p := range doc.Packages {
		c := fromSPDX(p)
		refOf[p.PackageSPDXIdentifier] = c.Ref
		comps[p.PackageSPDXIdentifier] = c
	}
	var rootID common.ElementID
	for _, rel := range doc.Relationships {
		if rel.Relationship == common.TypeRelationshipDescribe && rel.RefA.ElementRefID == "DOCUMENT" {
			rootID = rel.RefB.ElementRefID
			break
		}
	}
	if rootID == "" && len(doc.Packages) > 0 {
		rootID = doc.Packages[0].PackageSPDXIdentifier
	}
	inv := NewInventory(comps[rootID])
	for _, p := range doc.Packages {
		if p.PackageSPDXIdentifier != rootID {
			inv.Add(comps[p.PackageSPDXIdentifier])
		}
	}
	for _, rel := range doc.Relationships {
		a, okA := refOf[rel.RefA.ElementRefID]
		b, okB := refOf[rel.RefB.ElementRefID]
		if !okA || !okB {
			continue
		}
		switch rel.Relationship {
		case "DEPENDS_ON", "CONTAINS":
			inv.AddDependency(a, b)
		case "DEPENDENCY_OF", "DEV_DEPENDENCY_OF", "OPTIONAL_DEPENDENCY_OF", "RUNTIME_DEPENDENCY_OF", "BUILD_DEPENDENCY_OF", "TEST_DEPENDENCY_OF", "CONTAINED_BY":
			inv.AddDependency(b, a)
			if rel.Relationship == "DEV_DEPENDENCY_OF" || rel.Relationship == "TEST_DEPENDENCY_OF" {
				if c := inv.Lookup(a); c != nil {
					c.Scope = ScopeDev
				}
			}
		}
	}
	return inv, nil
}

var spdxHashName = map[common.ChecksumAlgorithm]string{common.SHA1: SHA1, common.SHA256: SHA256, common.SHA384: SHA384, common.SHA512: SHA512}

func fromSPDX(p *v23.Package) Component {
	c := Component{Name: p.PackageName, Version: p.PackageVersion, Type: strings.ToLower(or(p.PrimaryPackagePurpose, "library"))}
	for _, e := range p.PackageExternalReferences {
		if e.RefType == common.TypePackageManagerPURL {
			c.PURL = e.Locator
		}
	}
	c.Ecosystem = ecosystemOf(c.PURL)
	if p.PackageDownloadLocation != noAssertion && p.PackageDownloadLocation != "NONE" {
		c.Download = p.PackageDownloadLocation
	}
	for _, ck := range p.PackageChecksums {
		if n, ok := spdxHashName[ck.Algorithm]; ok {
			c.Hashes = append(c.Hashes, Hash{Algorithm: n, Value: strings.ToLower(ck.Value)})
		}
	}
	if l := p.PackageLicenseDeclared; l != "" && l != noAssertion && l != "NONE" {
		c.Licenses = []string{l}
	}
	for _, line := range strings.Split(p.PackageComment, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || !(strings.HasPrefix(k, "tarsctl:") || strings.HasPrefix(k, "cdx:")) {
			continue
		}
		if k == "tarsctl:license" {
			c.Licenses = strings.Split(v, " AND ")
			continue
		}
		c.Properties = append(c.Properties, Property{Name: k, Value: v})
	}
	if c.PURL != "" {
		c.Ref = c.PURL
	} else {
		c.Ref = "spdx:" + string(p.PackageSPDXIdentifier)
	}
	slices.Sort(c.Licenses)
	return c
}
