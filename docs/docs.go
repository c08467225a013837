// Package docs embeds tarsctl's operator guide and command reference, so
// an air-gapped bundle (tarsctl deploy airgap bundle) carries the
// documentation of the very version it ships.
package docs

import "embed"

// FS holds the guides (*.md) and the generated command reference
// (cli/*.md).
//
//go:embed *.md cli/*.md
var FS embed.FS
