package sbom

import (
	"io"
	"os"
	"path/filepath"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/build"
	"github.com/tars-ops/tarsctl/internal/signing"
)

// TarsctlTool is tarsctl, at this build's version, as the tool that made a
// document.
func TarsctlTool() Tool { return Tool{Name: "tarsctl", Version: build.Info().Version} }

// WrittenFile is one SBOM file [WriteFiles] wrote.
type WrittenFile struct {
	Path   string `json:"path"`
	Format string `json:"format"`
	// Signature is the detached signature's path, when the file was signed.
	Signature string `json:"signature,omitempty"`
}

// WriteFiles writes inv in each format into dir (created when missing) as
// [FileName] names it, atomically, and signs each file with key into
// FILE.sig when key is not nil.
func WriteFiles(inv *Inventory, dir string, formats []string, opts WriteOptions, key *signing.Key) ([]WrittenFile, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var out []WrittenFile
	for _, format := range formats {
		path := filepath.Join(dir, FileName(inv.Root.Name, inv.Root.Version, format))
		err := atomicfile.Write(path, atomicfile.Options{Perm: 0o644}, func(w io.Writer) error {
			return Write(w, format, inv, opts)
		})
		if err != nil {
			return nil, err
		}
		f := WrittenFile{Path: path, Format: format}
		if key != nil {
			if f.Signature, err = key.SignFile(path); err != nil {
				return nil, err
			}
		}
		out = append(out, f)
	}
	return out, nil
}
