package backup

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain())
	}
	os.Exit(testenv.Main(m))
}

// fixedNow is the clock of tests that do not care about time.
var fixedNow = time.Date(2026, 1, 28, 2, 0, 0, 0, time.UTC)

func clock(t time.Time) func() time.Time { return func() time.Time { return t } }

// newRepo creates an empty repository in a temporary directory.
func newRepo(t testing.TB) *Repository {
	t.Helper()
	r, err := Init(filepath.Join(t.TempDir(), "repo"), fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// create makes a set from sources and fails the test on error.
func create(t testing.TB, r *Repository, key []byte, sources ...Source) *Set {
	t.Helper()
	res, err := r.Create(context.Background(), CreateOptions{Sources: sources, Key: key, Profile: "test", Version: "test", Now: clock(fixedNow)})
	if err != nil {
		t.Fatalf("create backup: %v", err)
	}
	return res.Set
}

// rawSource is a Source that writes fixed bytes, for tests that need a part
// with chosen content: a hostile archive, a bad RDB.
type rawSource struct {
	spec    PartSpec
	data    []byte
	entries int64
}

func (s *rawSource) Spec() PartSpec { return s.spec }
func (s *rawSource) Dump(_ context.Context, w io.Writer) (DumpResult, error) {
	_, err := w.Write(s.data)
	return DumpResult{Entries: s.entries}, err
}

// testKey is a fixed AES-256 key.
func testKey(seed byte) []byte {
	k := bytes.Repeat([]byte{seed}, crypto.KeySize)
	k[0] ^= 0x5a
	return k
}

func keyring(t testing.TB, keys ...[]byte) *crypto.Keyring {
	t.Helper()
	k, err := crypto.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// flipByte flips one bit of a file at offset (negative: from the end).
func flipByte(t testing.TB, path string, offset int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if offset < 0 {
		offset += int64(len(b))
	}
	b[offset] ^= 0x01
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
