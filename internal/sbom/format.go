package sbom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Formats.
const (
	FormatCycloneDX = "cyclonedx"
	FormatSPDX      = "spdx"
)

// Formats lists the formats tarsctl writes, in the order it writes them.
var Formats = []string{FormatCycloneDX, FormatSPDX}

// MaxDocumentSize caps an SBOM read by [Read] or [Validate].
const MaxDocumentSize = 256 << 20

// FileName is the runbook's name for an SBOM: <name>-<version>-<format>.json.
func FileName(name, version, format string) string {
	return SafeFileName(name) + "-" + SafeFileName(version) + "-" + format + ".json"
}

// SafeFileName makes s usable as part of a file name: path separators,
// colons and control characters become '_'. SBOM and provenance file
// names are built with it.
func SafeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r < ' ' {
			return '_'
		}
		return r
	}, s)
}

// Write writes inv in format.
func Write(w io.Writer, format string, inv *Inventory, opts WriteOptions) error {
	switch format {
	case FormatCycloneDX:
		return WriteCycloneDX(w, inv, opts)
	case FormatSPDX:
		return WriteSPDX(w, inv, opts)
	}
	return fmt.Errorf("SBOM format %q: %w (cyclonedx and spdx are)", format, ErrUnknownFormat)
}

// Detect tells a CycloneDX JSON document from an SPDX JSON one by their
// identifying fields, and returns the format and its spec version ("1.7",
// "SPDX-2.3").
func Detect(data []byte) (format, version string, err error) {
	var head struct {
		BOMFormat   *string `json:"bomFormat"`
		SpecVersion *string `json:"specVersion"`
		SPDXVersion *string `json:"spdxVersion"`
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return "", "", fmt.Errorf("%w: empty document", ErrUnknownFormat)
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return "", "", fmt.Errorf("%w: not a JSON object: %v", ErrUnknownFormat, err)
	}
	switch {
	case head.BOMFormat != nil && *head.BOMFormat == "CycloneDX":
		v := ""
		if head.SpecVersion != nil {
			v = *head.SpecVersion
		}
		return FormatCycloneDX, v, nil
	case head.SPDXVersion != nil:
		return FormatSPDX, *head.SPDXVersion, nil
	}
	return "", "", fmt.Errorf("%w: neither CycloneDX (bomFormat) nor SPDX (spdxVersion) JSON", ErrUnknownFormat)
}

// Read parses a CycloneDX or SPDX JSON document into an inventory.
func Read(data []byte) (*Inventory, string, error) {
	if len(data) > MaxDocumentSize {
		return nil, "", fmt.Errorf("%w: document larger than %d bytes", ErrUnknownFormat, MaxDocumentSize)
	}
	format, _, err := Detect(data)
	if err != nil {
		return nil, "", err
	}
	var inv *Inventory
	if format == FormatCycloneDX {
		inv, err = ReadCycloneDX(bytes.NewReader(data))
	} else {
		inv, err = ReadSPDX(bytes.NewReader(data))
	}
	if err != nil {
		return nil, format, err
	}
	return inv, format, nil
}
