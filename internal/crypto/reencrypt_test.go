package crypto

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestReencryptRoundTrip(t *testing.T) {
	t.Parallel()
	oldKey, newKey := testKey(1), testKey(2)
	ring := mustKeyring(t, oldKey)
	var buf ReencryptBuffer
	// Sizes around chunk and batch boundaries (a batch of 1 KiB chunks is
	// 1024 chunks).
	for _, n := range []int{0, 1, smallChunk - 1, smallChunk, smallChunk + 1, 3 * smallChunk,
		1024 * smallChunk, 1024*smallChunk + 1, 1025 * smallChunk, 2048*smallChunk + 7} {
		pt := plaintext(n, uint64(n))
		ct := seal(t, oldKey, pt, uint64(n))
		var out bytes.Buffer
		got, err := ReencryptWith(&buf, &out, bytes.NewReader(ct), ring, newKey)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if got != int64(n) {
			t.Errorf("%d bytes: reported %d", n, got)
		}
		if out.Len() != len(ct) {
			t.Errorf("%d bytes: %d bytes out, want %d", n, out.Len(), len(ct))
		}
		h, _ := ParseHeader(out.Bytes())
		if h == nil || h.KeyID != KeyID(newKey) || h.ChunkSize != smallChunk {
			t.Fatalf("%d bytes: header %+v", n, h)
		}
		back, err := open(out.Bytes(), mustKeyring(t, newKey))
		if err != nil || !bytes.Equal(back, pt) {
			t.Fatalf("%d bytes: the re-encrypted file does not open to the original: %v", n, err)
		}
		// From memory: the same file, byte for byte, given the same salt
		// and nonce prefix.
		var fromMem bytes.Buffer
		got, err = reencryptBytes(&fromMem, ct, ring, newKey, bytes.NewReader(out.Bytes()[18:HeaderSize]), &buf)
		if err != nil || got != int64(n) {
			t.Fatalf("%d bytes from memory: %d, %v", n, got, err)
		}
		if !bytes.Equal(fromMem.Bytes(), out.Bytes()) {
			t.Fatalf("%d bytes: ReencryptBytes and Reencrypt wrote different files", n)
		}
	}
	// The default chunk size, through Reencrypt.
	pt := plaintext(5*DefaultChunkSize/2, 9)
	var ct bytes.Buffer
	w, _ := NewWriter(&ct, oldKey)
	w.Write(pt)
	w.Close()
	var out bytes.Buffer
	if _, err := Reencrypt(&out, &ct, ring, newKey); err != nil {
		t.Fatal(err)
	}
	if back, err := open(out.Bytes(), mustKeyring(t, newKey)); err != nil || !bytes.Equal(back, pt) {
		t.Fatalf("default chunks: %v", err)
	}
}

// Re-encryption authenticates as the reader does: a damaged file is an
// error of the same kind.
func TestReencryptDetectsDamage(t *testing.T) {
	t.Parallel()
	key := testKey(3)
	pt := plaintext(4*smallChunk+100, 4)
	ct := seal(t, key, pt, 4)
	sealed := smallChunk + Overhead
	flip := func(i int) []byte { b := bytes.Clone(ct); b[i] ^= 1; return b }
	exact := seal(t, key, plaintext(4*smallChunk, 5), 5)
	for _, tt := range []struct {
		name string
		data []byte
		want error
	}{
		{"flip in first chunk", flip(HeaderSize + 10), ErrAuthentication},
		{"flip in last chunk", flip(len(ct) - 20), ErrAuthentication},
		{"flip in header salt", flip(30), ErrAuthentication},
		{"truncated at a chunk boundary", ct[:HeaderSize+4*sealed], ErrTruncated},
		{"full chunks, truncated at a boundary", exact[:HeaderSize+3*sealed], ErrTruncated},
		{"truncated inside a chunk", ct[:HeaderSize+2*sealed+100], ErrAuthentication},
		{"only the header", ct[:HeaderSize], ErrTruncated},
		{"trailing data", append(bytes.Clone(ct), 0), ErrAuthentication},
		{"trailing data after a full final chunk", append(bytes.Clone(exact), exact[HeaderSize:HeaderSize+sealed]...), ErrTrailingData},
		{"not encrypted", []byte("plain text"), ErrNotEncrypted},
	} {
		var out bytes.Buffer
		_, err := Reencrypt(&out, bytes.NewReader(tt.data), mustKeyring(t, key), testKey(9))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		if _, merr := ReencryptBytes(nil, io.Discard, tt.data, mustKeyring(t, key), testKey(9)); !errors.Is(merr, tt.want) || (err != nil && merr.Error() != err.Error()) {
			t.Errorf("%s: from memory err = %v, want %v", tt.name, merr, err)
		}
		// And the reader agrees.
		if _, rerr := open(tt.data, mustKeyring(t, key)); !errors.Is(rerr, tt.want) {
			t.Errorf("%s: reader err = %v, want %v", tt.name, rerr, tt.want)
		}
	}
	if _, err := Reencrypt(&bytes.Buffer{}, bytes.NewReader(ct), mustKeyring(t, testKey(8)), testKey(9)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("wrong key: %v", err)
	}
}

// BenchmarkReencrypt re-encrypts a 4 MiB file from a stream (a read
// copies it into the buffer) and from memory (a mapped file: no copy).
func BenchmarkReencrypt(b *testing.B) {
	oldKey, newKey := testKey(1), testKey(2)
	pt := plaintext(4<<20, 1)
	var ct bytes.Buffer
	w, _ := NewWriter(&ct, oldKey)
	w.Write(pt)
	w.Close()
	ring := mustKeyring(b, oldKey)
	var buf ReencryptBuffer
	for _, from := range []string{"stream", "memory"} {
		b.Run(from, func(b *testing.B) {
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				var err error
				if from == "stream" {
					_, err = ReencryptWith(&buf, discard{}, bytes.NewReader(ct.Bytes()), ring, newKey)
				} else {
					_, err = ReencryptBytes(&buf, discard{}, ct.Bytes(), ring, newKey)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
