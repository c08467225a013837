package sbom

import "embed"

// schemaFS holds the JSON schemas documents are validated against; see
// schema/README.md for where each comes from.
//
//go:embed schema/*.json
var schemaFS embed.FS
