package slsa

import (
	"fmt"
	"io"
	"os"
)

// readFileCapped reads at most limit+1 bytes of path, so a parser with the
// same limit sees that the file is too large without reading all of it.
func readFileCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}
