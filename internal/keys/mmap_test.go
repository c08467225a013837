package keys

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tars-ops/tarsctl/internal/crypto"
)

// truncatingWriter truncates a file on its first write: the file
// re-encrypted from a mapping shrinks under the reader.
type truncatingWriter struct {
	path string
	done bool
}

func (w *truncatingWriter) Write(p []byte) (int, error) {
	if !w.done {
		w.done = true
		if err := os.Truncate(w.path, 4096); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// A file truncated while it is re-encrypted from its mapping is an error,
// not a crash (reading the mapping past the new end raises SIGBUS).
func TestReencryptFileTruncatedUnderneath(t *testing.T) {
	t.Parallel()
	oldKey, newKey := make([]byte, crypto.KeySize), make([]byte, crypto.KeySize)
	_, _ = rand.Read(oldKey)
	_, _ = rand.Read(newKey)
	plain := make([]byte, 8<<20)
	_, _ = rand.Read(plain)
	var ct bytes.Buffer
	w, _ := crypto.NewWriter(&ct, oldKey)
	_, _ = w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ckpt.bin")
	if err := os.WriteFile(path, ct.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ring, _ := crypto.NewKeyring(oldKey)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	// Intact, the mapping gives the same result as a read.
	var out bytes.Buffer
	if n, err := reencryptFile(nil, &out, f, int64(ct.Len()), ring, newKey); err != nil || n != int64(len(plain)) {
		t.Fatalf("intact file: %d bytes, %v", n, err)
	}
	newRing, _ := crypto.NewKeyring(newKey)
	r, err := crypto.NewReader(bytes.NewReader(out.Bytes()), newRing)
	if err != nil {
		t.Fatal(err)
	}
	var back bytes.Buffer
	if _, err := back.ReadFrom(r); err != nil || !bytes.Equal(back.Bytes(), plain) {
		t.Fatalf("re-encrypted from the mapping, the file does not open to the original: %v", err)
	}

	_, err = reencryptFile(nil, &truncatingWriter{path: path}, f, int64(ct.Len()), ring, newKey)
	if !errors.Is(err, errShrunk) {
		t.Fatalf("truncated underneath: err = %v, want %v", err, errShrunk)
	}
}
