package backup

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestParallelZstd(t *testing.T) {
	t.Parallel()
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	for _, n := range []int{0, 1, zstdBlock - 1, zstdBlock, 3*zstdBlock + 5} {
		in := append(bytes.Repeat([]byte("compressible "), n/26), randomBytes(n-n/26*13, uint64(n))...)
		var out bytes.Buffer
		z, err := newParallelZstd(&out, zstd.SpeedDefault)
		if err != nil {
			t.Fatal(err)
		}
		// Odd-sized writes, across block boundaries.
		for rest := in; len(rest) > 0; {
			k := min(len(rest), 1<<20+7)
			if _, err := z.Write(rest[:k]); err != nil {
				t.Fatal(err)
			}
			rest = rest[k:]
		}
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
		if out.Len() == 0 {
			t.Fatalf("%d bytes: no output", n)
		}
		got, err := dec.DecodeAll(out.Bytes(), nil)
		if err != nil || !bytes.Equal(got, in) {
			t.Errorf("%d bytes: round trip: %v, %d bytes back", n, err, len(got))
		}
	}
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(p), nil
}

func TestParallelZstdErrors(t *testing.T) {
	t.Parallel()
	z, err := newParallelZstd(&failingWriter{n: 1}, zstd.SpeedFastest)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(zstdBlock, 9)
	var werr error
	for i := 0; i < 20 && werr == nil; i++ {
		_, werr = z.Write(data)
	}
	if cerr := z.Close(); cerr == nil || (werr != nil && werr.Error() != "disk full") {
		t.Errorf("write %v, close %v; want disk full", werr, cerr)
	}
	z2, _ := newParallelZstd(io.Discard, zstd.SpeedFastest)
	_, _ = z2.Write(data)
	z2.abort()
	z2.abort()
	if err := z2.Close(); err == nil {
		t.Error("Close after abort succeeded")
	}
}

func TestCompressionLevels(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	makeTree(t, dir)
	r := newRepo(t)
	for _, level := range CompressionLevels {
		res, err := r.Create(t.Context(), CreateOptions{Sources: []Source{&DirSource{Name: "data", Path: dir}}, Compression: level})
		if err != nil {
			t.Fatalf("%s: %v", level, err)
		}
		rep, err := r.Verify(t.Context(), res.Set, VerifyOptions{})
		if err != nil || !rep.OK() {
			t.Errorf("%s: verify: %v %v", level, err, rep.Problems())
		}
	}
	if _, err := r.Create(t.Context(), CreateOptions{Sources: []Source{&DirSource{Name: "data", Path: dir}}, Compression: "ultra"}); err == nil || !strings.Contains(err.Error(), `compression level "ultra"`) {
		t.Errorf("bad level: %v", err)
	}
}
