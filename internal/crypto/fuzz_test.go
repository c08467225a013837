package crypto

import (
	"bytes"
	"io"
	"testing"
)

// fuzzSeeds are valid files under testKey(1), deterministic.
func fuzzSeeds(t testing.TB) [][]byte {
	key := testKey(1)
	return [][]byte{
		seal(t, key, nil, 1),
		seal(t, key, []byte("hello"), 2),
		seal(t, key, plaintext(smallChunk, 3), 3),
		seal(t, key, plaintext(2*smallChunk+7, 4), 4),
	}
}

// FuzzReader feeds arbitrary bytes to the reader. It must never panic, and
// it may only succeed on one of the valid seed files, unchanged: nothing
// else can authenticate under the key.
func FuzzReader(f *testing.F) {
	seeds := fuzzSeeds(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte(Magic))
	f.Add(append([]byte(Magic), 1, 1, 10))
	keys := mustKeyring(f, testKey(1))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), keys)
		if err != nil {
			if r != nil {
				t.Fatal("error with a non-nil reader")
			}
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return
		}
		for _, s := range seeds {
			if bytes.Equal(s, data) {
				return
			}
		}
		t.Fatalf("decrypted a file that is not one of the seeds: %x", data)
	})
}

// FuzzReencrypt checks that re-encryption from a stream and from memory
// agree on arbitrary input: the same error, or the same file given the
// same randomness, which then opens under the new key.
func FuzzReencrypt(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	keys := mustKeyring(f, testKey(1))
	newKeys := mustKeyring(f, testKey(2))
	rnd := bytes.Repeat([]byte{7}, 64)
	f.Fuzz(func(t *testing.T, data []byte) {
		var fromStream, fromMem bytes.Buffer
		n1, err1 := reencrypt(&fromStream, bytes.NewReader(data), keys, testKey(2), bytes.NewReader(rnd), nil)
		n2, err2 := reencryptBytes(&fromMem, data, keys, testKey(2), bytes.NewReader(rnd), nil)
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("stream: %v; memory: %v", err1, err2)
		}
		if err1 != nil {
			return
		}
		if n1 != n2 || !bytes.Equal(fromStream.Bytes(), fromMem.Bytes()) {
			t.Fatalf("stream and memory wrote different files (%d, %d plaintext bytes)", n1, n2)
		}
		if _, err := open(fromMem.Bytes(), newKeys); err != nil {
			t.Fatalf("the re-encrypted file does not open: %v", err)
		}
	})
}

// FuzzParseHeader checks that a header that parses marshals back to the
// same bytes, and that a failure returns no header.
func FuzzParseHeader(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s[:HeaderSize])
	}
	f.Add([]byte("TARSENC"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHeader(data)
		if err != nil {
			if h != nil {
				t.Fatal("error with a non-nil header")
			}
			return
		}
		b, err := h.MarshalBinary()
		if err != nil {
			t.Fatalf("parsed header does not marshal: %v", err)
		}
		if !bytes.Equal(b, data[:HeaderSize]) {
			t.Fatalf("marshal(parse(x)) = %x, want %x", b, data[:HeaderSize])
		}
	})
}

// FuzzParseKey checks that ParseKey accepts only 32-byte keys.
func FuzzParseKey(f *testing.F) {
	f.Add([]byte("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"))
	f.Add(testKey(1))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, data []byte) {
		key, format, err := ParseKey(data)
		if err != nil {
			if key != nil || format != "" {
				t.Fatal("error with a result")
			}
			return
		}
		if len(key) != KeySize || (format != KeyFormatHex && format != KeyFormatRaw) {
			t.Fatalf("key of %d bytes, format %q", len(key), format)
		}
	})
}
