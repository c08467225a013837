package crypto

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// testKey returns a fixed key derived from seed.
func testKey(seed byte) []byte {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

// detRand is a deterministic stand-in for crypto/rand in tests.
func detRand(seed uint64) io.Reader {
	return rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
}

// plaintext returns n deterministic bytes.
func plaintext(n int, seed uint64) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{7, byte(seed)}).Read(b)
	return b
}

const smallChunk = 1 << minChunkLog2

// seal encrypts pt with 1 KiB chunks so tests exercise many chunks cheaply.
func seal(t testing.TB, key, pt []byte, seed uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := newWriter(&buf, key, smallChunk, detRand(seed))
	if err != nil {
		t.Fatal(err)
	}
	// Write in odd-sized pieces to cross chunk boundaries.
	for rest := pt; len(rest) > 0; {
		n := min(len(rest), 333)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(ct []byte, keys *Keyring) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(ct), keys)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func mustKeyring(t testing.TB, keys ...[]byte) *Keyring {
	t.Helper()
	k, err := NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	key := testKey(1)
	for _, n := range []int{0, 1, smallChunk - 1, smallChunk, smallChunk + 1, 3 * smallChunk, 3*smallChunk + 17} {
		pt := plaintext(n, uint64(n))
		ct := seal(t, key, pt, uint64(n))
		chunks := max(1, (n+smallChunk-1)/smallChunk)
		if want := HeaderSize + n + chunks*Overhead; len(ct) != want {
			t.Errorf("%d bytes: ciphertext is %d bytes, want %d", n, len(ct), want)
		}
		got, err := open(ct, mustKeyring(t, testKey(9), key))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got, pt) {
			t.Errorf("%d bytes: plaintext differs after a round trip", n)
		}
		// One byte at a time through the reader too.
		r, err := NewReader(iotest.OneByteReader(bytes.NewReader(ct)), mustKeyring(t, key))
		if err != nil {
			t.Fatal(err)
		}
		if err := iotest.TestReader(r, pt); err != nil {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
}

func TestDefaultChunkSize(t *testing.T) {
	t.Parallel()
	key := testKey(2)
	pt := plaintext(2*DefaultChunkSize+5, 3)
	var buf bytes.Buffer
	w, err := NewWriter(&buf, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pt); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
	h, err := ParseHeader(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if h.ChunkSize != DefaultChunkSize || h.KeyID != KeyID(key) || h.Version != 1 {
		t.Errorf("header = %+v", h)
	}
	got, err := open(buf.Bytes(), mustKeyring(t, key))
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("round trip: %v", err)
	}
	// Two files of the same plaintext under the same key differ: fresh salt
	// and nonce prefix each time.
	var buf2 bytes.Buffer
	w2, _ := NewWriter(&buf2, key)
	_, _ = w2.Write(pt)
	_ = w2.Close()
	if bytes.Equal(buf.Bytes()[18:57], buf2.Bytes()[18:57]) || bytes.Equal(buf.Bytes()[57:100], buf2.Bytes()[57:100]) {
		t.Error("two encryptions share salt, nonce prefix or ciphertext")
	}
}

// TestTamper checks that every kind of damage is refused with the error
// that names it.
func TestTamper(t *testing.T) {
	t.Parallel()
	key := testKey(3)
	pt := plaintext(4*smallChunk+100, 4) // 5 chunks, the last short
	ct := seal(t, key, pt, 4)
	other := seal(t, key, pt, 5) // same plaintext and key, another file
	sealed := smallChunk + Overhead
	chunk := func(b []byte, i int) []byte { return b[HeaderSize+i*sealed : HeaderSize+(i+1)*sealed] }
	withChunks := func(order ...[]byte) []byte {
		b := bytes.Clone(ct[:HeaderSize])
		for _, c := range order {
			b = append(b, c...)
		}
		return b
	}
	flip := func(i int) []byte {
		b := bytes.Clone(ct)
		b[i] ^= 0x01
		return b
	}

	tests := []struct {
		name string
		data []byte
		keys *Keyring
		want error
	}{
		{"flip in first chunk", flip(HeaderSize + 10), nil, ErrAuthentication},
		{"flip in a tag", flip(HeaderSize + sealed - 1), nil, ErrAuthentication},
		{"flip in last chunk", flip(len(ct) - 20), nil, ErrAuthentication},
		{"flip in header salt", flip(30), nil, ErrAuthentication},
		{"flip in header nonce prefix", flip(52), nil, ErrAuthentication},
		{"flip in header key id", flip(12), nil, ErrUnknownKey},
		{"flip in header version", flip(7), nil, ErrUnsupported},
		{"flip in magic", flip(0), nil, ErrNotEncrypted},
		{"chunk size changed", func() []byte { b := bytes.Clone(ct); b[9]++; return b }(), nil, ErrAuthentication},
		{"chunk size out of range", func() []byte { b := bytes.Clone(ct); b[9] = 40; return b }(), nil, ErrUnsupported},
		{"truncated at a chunk boundary", ct[:HeaderSize+4*sealed], nil, ErrTruncated},
		{"truncated inside a chunk", ct[:HeaderSize+2*sealed+100], nil, ErrAuthentication},
		{"truncated inside the tag of the last", ct[:len(ct)-3], nil, ErrAuthentication},
		{"only the header", ct[:HeaderSize], nil, ErrTruncated},
		{"header cut short", ct[:HeaderSize-1], nil, ErrTruncated},
		{"empty", nil, nil, ErrNotEncrypted},
		{"chunks swapped", withChunks(chunk(ct, 1), chunk(ct, 0), chunk(ct, 2), chunk(ct, 3), ct[HeaderSize+4*sealed:]), nil, ErrAuthentication},
		{"chunk repeated", withChunks(chunk(ct, 0), chunk(ct, 0), chunk(ct, 2), chunk(ct, 3), ct[HeaderSize+4*sealed:]), nil, ErrAuthentication},
		{"chunk from another file", withChunks(chunk(ct, 0), chunk(other, 1), chunk(ct, 2), chunk(ct, 3), ct[HeaderSize+4*sealed:]), nil, ErrAuthentication},
		{"trailing data", append(bytes.Clone(ct), 0), nil, ErrAuthentication},
		{"a whole chunk appended", append(bytes.Clone(ct), chunk(ct, 0)...), nil, ErrAuthentication},
		{"wrong key", ct, mustKeyring(t, testKey(4)), ErrUnknownKey},
		{"no keys", ct, &Keyring{}, ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keys := tt.keys
			if keys == nil {
				keys = mustKeyring(t, key)
			}
			_, err := open(tt.data, keys)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestTamperPartialRead checks that the plaintext returned before a damaged
// chunk is a prefix of the original: a reader never makes data up.
func TestTamperPartialRead(t *testing.T) {
	t.Parallel()
	key := testKey(5)
	pt := plaintext(3*smallChunk, 6)
	ct := seal(t, key, pt, 6)
	ct[HeaderSize+2*(smallChunk+Overhead)+5] ^= 0x80
	r, err := NewReader(bytes.NewReader(ct), mustKeyring(t, key))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if !errors.Is(err, ErrAuthentication) || !strings.Contains(err.Error(), "chunk 2") {
		t.Fatalf("err = %v, want an authentication error naming chunk 2", err)
	}
	if !bytes.Equal(got, pt[:len(got)]) || len(got) != 2*smallChunk {
		t.Errorf("read %d bytes before the damaged chunk, want the %d of chunks 0 and 1", len(got), 2*smallChunk)
	}
}

// TestEmptyFinalChunk checks the canonical-encoding rule: only an empty
// plaintext may end with an empty chunk.
func TestEmptyFinalChunk(t *testing.T) {
	t.Parallel()
	key := testKey(6)
	pt := plaintext(smallChunk, 7)
	var buf bytes.Buffer
	w, err := newWriter(&buf, key, smallChunk, detRand(7))
	if err != nil {
		t.Fatal(err)
	}
	// Hand-build chunk 0 as non-final and an empty final chunk 1.
	copy(w.buf[:smallChunk], pt)
	w.buf = w.buf[:smallChunk]
	if err := w.seal(false); err != nil {
		t.Fatal(err)
	}
	if err := w.seal(true); err != nil {
		t.Fatal(err)
	}
	_, err = open(buf.Bytes(), mustKeyring(t, key))
	if !errors.Is(err, ErrAuthentication) || !strings.Contains(err.Error(), "empty final chunk") {
		t.Errorf("err = %v, want the empty final chunk refused", err)
	}
}

func TestReaderErrorFromSource(t *testing.T) {
	t.Parallel()
	key := testKey(8)
	ct := seal(t, key, plaintext(2*smallChunk, 1), 1)
	boom := errors.New("disk on fire")
	src := io.MultiReader(bytes.NewReader(ct[:HeaderSize+100]), iotest.ErrReader(boom))
	r, err := NewReader(src, mustKeyring(t, key))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, boom) {
		t.Errorf("err = %v, want the source's error", err)
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("no space left")
	}
	f.after--
	return len(p), nil
}

func TestWriterErrorsAreSticky(t *testing.T) {
	t.Parallel()
	w, err := newWriter(&failWriter{after: 1}, testKey(1), smallChunk, detRand(1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Write(make([]byte, 3*smallChunk))
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("Write err = %v", err)
	}
	if _, err2 := w.Write([]byte("x")); err2 == nil {
		t.Error("Write after a failure succeeded")
	}
	if err := w.Close(); err == nil {
		t.Error("Close after a failure succeeded")
	}
	if _, err := NewWriter(io.Discard, make([]byte, 16)); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("16-byte key: %v", err)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	t.Parallel()
	ct := seal(t, testKey(1), []byte("hi"), 1)
	h, err := ReadHeader(bytes.NewReader(ct))
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.MarshalBinary()
	if err != nil || !bytes.Equal(b, ct[:HeaderSize]) {
		t.Errorf("marshal(parse(header)) differs: %v", err)
	}
	id, err := ReadKeyID(bytes.NewReader(ct))
	if err != nil || id != KeyID(testKey(1)) {
		t.Errorf("ReadKeyID = %q, %v", id, err)
	}
	if _, err := (&Header{KeyID: "zz", ChunkSize: 1024}).MarshalBinary(); err == nil {
		t.Error("bad key id marshalled")
	}
	if _, err := (&Header{KeyID: KeyID(testKey(1)), ChunkSize: 1000}).MarshalBinary(); err == nil {
		t.Error("chunk size 1000 marshalled")
	}
}

func BenchmarkWriter(b *testing.B) {
	key := testKey(1)
	buf := plaintext(1<<20, 1)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		w, _ := NewWriter(io.Discard, key)
		_, _ = w.Write(buf)
		_ = w.Close()
	}
}

func BenchmarkReader(b *testing.B) {
	key := testKey(1)
	pt := plaintext(1<<20, 1)
	var ct bytes.Buffer
	w, _ := NewWriter(&ct, key)
	_, _ = w.Write(pt)
	_ = w.Close()
	keys, _ := NewKeyring(key)
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		r, _ := NewReader(bytes.NewReader(ct.Bytes()), keys)
		_, _ = io.Copy(io.Discard, r)
	}
}

func TestTrailingDataAfterFullFinalChunk(t *testing.T) {
	t.Parallel()
	key := testKey(7)
	ct := seal(t, key, plaintext(2*smallChunk, 2), 2) // the final chunk is full
	_, err := open(append(bytes.Clone(ct), "more"...), mustKeyring(t, key))
	if !errors.Is(err, ErrTrailingData) {
		t.Errorf("err = %v, want %v", err, ErrTrailingData)
	}
}
