package sbom

import (
	"fmt"
	"io"
	"os"

	"github.com/tars-ops/tarsctl/internal/sbom"
)

// readDocument reads an SBOM file, refusing one larger than the limit.
func readDocument(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, sbom.MaxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > sbom.MaxDocumentSize {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", path, sbom.ErrUnknownFormat, sbom.MaxDocumentSize)
	}
	return data, nil
}

// readInventory reads an SBOM file in either format.
func readInventory(path string) (*sbom.Inventory, string, error) {
	data, err := readDocument(path)
	if err != nil {
		return nil, "", err
	}
	inv, format, err := sbom.Read(data)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return inv, format, nil
}
