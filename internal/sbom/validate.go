package sbom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"
	"github.com/xeipuuv/gojsonschema"
)

// Problem is one way a document breaks its specification. Path is a JSON
// pointer into the document ("/components/3/purl"), "" for the whole.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationResult is what [Validate] found.
type ValidationResult struct {
	Format   string    `json:"format"`
	Version  string    `json:"version"`
	Problems []Problem `json:"problems"`
}

// Valid reports whether no problem was found.
func (r *ValidationResult) Valid() bool { return len(r.Problems) == 0 }

// cdxSchemas maps a CycloneDX spec version to its embedded schema.
var cdxSchemas = map[string]string{
	"1.5": "schema/bom-1.5.schema.json",
	"1.6": "schema/bom-1.6.schema.json",
	"1.7": "schema/bom-1.7.schema.json",
}

// schemaResources are the schemas the CycloneDX schemas refer to; each
// declares the URL it is referred to by in its $id.
var schemaResources = []string{
	"schema/spdx.schema.json",
	"schema/jsf-0.82.schemax.json",
	"schema/cryptography-defs.stub.json",
}

const spdxSchemaFile = "schema/spdx-schema-2.3.json"

var (
	schemaMu    sync.Mutex
	schemaCache = map[string]*gojsonschema.Schema{}
)

// compiledSchema compiles an embedded schema once. Every schema it refers to
// is embedded too, so compiling and validating never touch the network.
//
// (gojsonschema rather than a newer validator: it does its set-up lazily,
// where others compile their meta-schemas at program start, which every
// tarsctl command, even `tarsctl version`, would pay for.)
func compiledSchema(file string) (*gojsonschema.Schema, error) {
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s, ok := schemaCache[file]; ok {
		return s, nil
	}
	sl := gojsonschema.NewSchemaLoader()
	sl.AutoDetect = false
	sl.Draft = gojsonschema.Draft7
	for _, f := range schemaResources {
		data, err := schemaFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := sl.AddSchemas(gojsonschema.NewBytesLoader(data)); err != nil {
			return nil, fmt.Errorf("embedded schema %s: %w", f, err)
		}
	}
	data, err := schemaFS.ReadFile(file)
	if err != nil {
		return nil, err
	}
	s, err := sl.Compile(gojsonschema.NewBytesLoader(data))
	if err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", file, err)
	}
	schemaCache[file] = s
	return s, nil
}

// Validate checks a CycloneDX (1.5 to 1.7) or SPDX 2.3 JSON document
// against its specification and reports every problem: for CycloneDX the
// JSON schema, unique bom-refs and dependency references that resolve; for
// SPDX the JSON schema, tools-golang's parsing and relationship checks,
// unique SPDX ids and a DESCRIBES relationship. An error means the document
// could not be checked at all ([ErrUnknownFormat]).
func Validate(data []byte) (*ValidationResult, error) {
	if len(data) > MaxDocumentSize {
		return nil, fmt.Errorf("%w: document larger than %d bytes", ErrUnknownFormat, MaxDocumentSize)
	}
	format, version, err := Detect(data)
	if err != nil {
		return nil, err
	}
	res := &ValidationResult{Format: format, Version: version, Problems: []Problem{}}
	var schemaFile string
	switch format {
	case FormatCycloneDX:
		f, ok := cdxSchemas[version]
		if !ok {
			return nil, fmt.Errorf("%w: CycloneDX spec version %q (tarsctl validates 1.5, 1.6 and 1.7)", ErrUnknownFormat, version)
		}
		schemaFile = f
	case FormatSPDX:
		if version != "SPDX-2.3" {
			return nil, fmt.Errorf("%w: %s (tarsctl validates SPDX-2.3)", ErrUnknownFormat, version)
		}
		schemaFile = spdxSchemaFile
	}
	sch, err := compiledSchema(schemaFile)
	if err != nil {
		return nil, err
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("%w: not valid JSON", ErrUnknownFormat)
	}
	result, err := sch.Validate(gojsonschema.NewBytesLoader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnknownFormat, err)
	}
	for _, e := range result.Errors() {
		// The description repeats the field ("components.0.type must be
		// …"); the path says it already.
		msg := strings.TrimPrefix(e.Description(), e.Field()+" ")
		res.Problems = append(res.Problems, Problem{Path: pointer(e.Field()), Message: msg})
	}
	if format == FormatCycloneDX {
		res.Problems = append(res.Problems, cdxChecks(data)...)
	} else {
		res.Problems = append(res.Problems, spdxChecks(data)...)
	}
	slices.SortStableFunc(res.Problems, func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
	res.Problems = slices.Compact(res.Problems)
	return res, nil
}

// pointer turns gojsonschema's field path ("components.0.type", "(root)")
// into a JSON pointer ("/components/0/type", "").
func pointer(field string) string {
	if field == "" || field == "(root)" {
		return ""
	}
	field = strings.TrimPrefix(field, "(root).")
	return "/" + strings.ReplaceAll(field, ".", "/")
}

// cdxChecks are the rules a JSON schema cannot state.
func cdxChecks(data []byte) []Problem {
	var doc struct {
		Metadata struct {
			Component *struct {
				BOMRef string `json:"bom-ref"`
			} `json:"component"`
		} `json:"metadata"`
		Components []struct {
			BOMRef string `json:"bom-ref"`
		} `json:"components"`
		Dependencies []struct {
			Ref       string   `json:"ref"`
			DependsOn []string `json:"dependsOn"`
		} `json:"dependencies"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil // the schema check has reported the shape
	}
	var out []Problem
	refs := map[string]bool{}
	if c := doc.Metadata.Component; c != nil && c.BOMRef != "" {
		refs[c.BOMRef] = true
	}
	for i, c := range doc.Components {
		if c.BOMRef == "" {
			continue
		}
		if refs[c.BOMRef] {
			out = append(out, Problem{Path: fmt.Sprintf("/components/%d/bom-ref", i), Message: fmt.Sprintf("bom-ref %q is not unique", c.BOMRef)})
		}
		refs[c.BOMRef] = true
	}
	for i, d := range doc.Dependencies {
		if !refs[d.Ref] {
			out = append(out, Problem{Path: fmt.Sprintf("/dependencies/%d/ref", i), Message: fmt.Sprintf("ref %q names no component", d.Ref)})
		}
		for j, to := range d.DependsOn {
			if !refs[to] {
				out = append(out, Problem{Path: fmt.Sprintf("/dependencies/%d/dependsOn/%d", i, j), Message: fmt.Sprintf("ref %q names no component", to)})
			}
		}
	}
	return out
}

// spdxChecks parses the document with tools-golang and runs its checks.
func spdxChecks(data []byte) []Problem {
	doc, err := spdxjson.Read(bytes.NewReader(data))
	if err != nil {
		return []Problem{{Message: "tools-golang cannot read the document: " + err.Error()}}
	}
	var out []Problem
	if err := spdxlib.ValidateDocument(doc); err != nil {
		out = append(out, Problem{Path: "/relationships", Message: err.Error()})
	}
	seen := map[string]bool{}
	for i, p := range doc.Packages {
		id := string(p.PackageSPDXIdentifier)
		if seen[id] {
			out = append(out, Problem{Path: fmt.Sprintf("/packages/%d/SPDXID", i), Message: fmt.Sprintf("SPDXID SPDXRef-%s is not unique", id)})
		}
		seen[id] = true
	}
	describes := false
	for _, r := range doc.Relationships {
		if r.Relationship == "DESCRIBES" && r.RefA.ElementRefID == "DOCUMENT" {
			describes = true
		}
	}
	if !describes && len(doc.Packages) > 0 {
		out = append(out, Problem{Path: "/relationships", Message: "no DESCRIBES relationship from the document: its main package is unknown"})
	}
	if doc.CreationInfo == nil || len(doc.CreationInfo.Creators) == 0 {
		out = append(out, Problem{Path: "/creationInfo", Message: "no creators"})
	}
	return out
}
