package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// Format constants; docs/encryption-format.md is the specification.
const (
	// Magic starts every encrypted file.
	Magic = "TARSENC"
	// Version is the format version this package writes.
	Version = 1
	// AlgorithmAES256GCM is AES-256-GCM with an HKDF-SHA256 file key.
	AlgorithmAES256GCM = 1
	// HeaderSize is the size of a version 1 header in bytes.
	HeaderSize = 57
	// DefaultChunkSize is the plaintext size of every chunk but the last.
	DefaultChunkSize = 1 << defaultChunkLog2
	// Overhead is what each chunk adds to its plaintext: the GCM tag.
	Overhead = 16

	defaultChunkLog2 = 16
	minChunkLog2     = 10 // 1 KiB
	maxChunkLog2     = 24 // 16 MiB: a reader never buffers more than this
	keyIDSize        = 8
	saltSize         = 32
	noncePrefixSize  = 7
	hkdfInfo         = "tarsctl-encryption-v1"
	maxChunks        = 1<<32 - 1
)

// Errors a reader returns for a damaged or foreign file. They are wrapped
// with the position: use errors.Is.
var (
	// ErrNotEncrypted means the data does not start with [Magic].
	ErrNotEncrypted = errors.New("not a tarsctl encrypted file")
	// ErrUnsupported means a header this package cannot read: a newer
	// version, another algorithm, an out-of-range chunk size.
	ErrUnsupported = errors.New("unsupported encryption header")
	// ErrAuthentication means a chunk failed authentication: the file was
	// modified or damaged, its chunks were reordered, or it was sealed with
	// a different key that has the same id (which does not happen by
	// accident).
	ErrAuthentication = errors.New("authentication failed")
	// ErrTruncated means the file ends before its final chunk.
	ErrTruncated = errors.New("truncated")
	// ErrTrailingData means there is data after the final chunk.
	ErrTrailingData = errors.New("data after the final chunk")
)

// Header is the parsed header of an encrypted file.
type Header struct {
	Version     int
	Algorithm   int
	ChunkSize   int    // plaintext bytes per chunk
	KeyID       string // hex, see [KeyID]
	Salt        [saltSize]byte
	NoncePrefix [noncePrefixSize]byte
}

// MarshalBinary encodes h in the version 1 layout.
func (h *Header) MarshalBinary() ([]byte, error) {
	id, err := hex.DecodeString(h.KeyID)
	if err != nil || len(id) != keyIDSize {
		return nil, fmt.Errorf("%w: key id %q is not %d hex bytes", ErrUnsupported, h.KeyID, keyIDSize)
	}
	log2 := 0
	for 1<<log2 < h.ChunkSize {
		log2++
	}
	if 1<<log2 != h.ChunkSize || log2 < minChunkLog2 || log2 > maxChunkLog2 {
		return nil, fmt.Errorf("%w: chunk size %d is not a power of two from %d to %d", ErrUnsupported, h.ChunkSize, 1<<minChunkLog2, 1<<maxChunkLog2)
	}
	b := make([]byte, 0, HeaderSize)
	b = append(b, Magic...)
	b = append(b, byte(h.Version), byte(h.Algorithm), byte(log2))
	b = append(b, id...)
	b = append(b, h.Salt[:]...)
	b = append(b, h.NoncePrefix[:]...)
	return b, nil
}

// ParseHeader decodes a header from the first [HeaderSize] bytes of b.
func ParseHeader(b []byte) (*Header, error) {
	if len(b) < len(Magic) || string(b[:len(Magic)]) != Magic {
		return nil, ErrNotEncrypted
	}
	if len(b) < HeaderSize {
		return nil, fmt.Errorf("header: %w: %d bytes, want %d", ErrTruncated, len(b), HeaderSize)
	}
	h := &Header{Version: int(b[7]), Algorithm: int(b[8])}
	if h.Version != Version {
		return nil, fmt.Errorf("%w: format version %d (this tarsctl reads version %d; upgrade it)", ErrUnsupported, h.Version, Version)
	}
	if h.Algorithm != AlgorithmAES256GCM {
		return nil, fmt.Errorf("%w: algorithm %d", ErrUnsupported, h.Algorithm)
	}
	log2 := int(b[9])
	if log2 < minChunkLog2 || log2 > maxChunkLog2 {
		return nil, fmt.Errorf("%w: chunk size 2^%d outside 2^%d..2^%d", ErrUnsupported, log2, minChunkLog2, maxChunkLog2)
	}
	h.ChunkSize = 1 << log2
	h.KeyID = hex.EncodeToString(b[10:18])
	copy(h.Salt[:], b[18:50])
	copy(h.NoncePrefix[:], b[50:57])
	return h, nil
}

// ReadHeader reads and parses the header at the start of r, leaving r just
// past it.
func ReadHeader(r io.Reader) (*Header, error) {
	b := make([]byte, HeaderSize)
	n, err := io.ReadFull(r, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read encryption header: %w", err)
	}
	return ParseHeader(b[:n])
}

// ReadKeyID returns the id of the key that sealed the file r starts with.
func ReadKeyID(r io.Reader) (string, error) {
	h, err := ReadHeader(r)
	if err != nil {
		return "", err
	}
	return h.KeyID, nil
}

// fileAEAD derives the file key for h from the master key.
func fileAEAD(master []byte, h *Header) (cipher.AEAD, error) {
	if len(master) != KeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidKey, len(master), KeySize)
	}
	key, err := hkdf.Key(sha256.New, master, h.Salt[:], hkdfInfo, KeySize)
	if err != nil {
		return nil, fmt.Errorf("derive file key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// nonce fills n for chunk i.
func setNonce(n []byte, prefix *[noncePrefixSize]byte, i uint32, final bool) {
	copy(n, prefix[:])
	binary.BigEndian.PutUint32(n[noncePrefixSize:], i)
	n[11] = 0
	if final {
		n[11] = 1
	}
}

// Writer encrypts a stream. Create one with [NewWriter]; Close writes the
// final chunk and must be called, or the file is unreadable (truncated).
// A Writer is not safe for concurrent use.
type Writer struct {
	dst     io.Writer
	aead    cipher.AEAD
	header  []byte
	prefix  [noncePrefixSize]byte
	nonce   [12]byte
	buf     []byte // plaintext of the chunk being filled, cap chunk size
	out     []byte // sealed chunk
	counter uint32
	err     error // sticky
	closed  bool
}

// NewWriter writes the header of a new encrypted file to w and returns a
// writer that encrypts into it under key with [DefaultChunkSize] chunks.
// Nothing is written to w but whole chunks; Close writes the last one. It
// does not close w.
func NewWriter(w io.Writer, key []byte) (*Writer, error) {
	return newWriter(w, key, DefaultChunkSize, rand.Reader)
}

// newWriter is NewWriter with a chosen chunk size and source of randomness,
// for tests.
func newWriter(w io.Writer, key []byte, chunkSize int, rnd io.Reader) (*Writer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidKey, len(key), KeySize)
	}
	h := &Header{Version: Version, Algorithm: AlgorithmAES256GCM, ChunkSize: chunkSize, KeyID: KeyID(key)}
	if _, err := io.ReadFull(rnd, h.Salt[:]); err != nil {
		return nil, fmt.Errorf("random salt: %w", err)
	}
	if _, err := io.ReadFull(rnd, h.NoncePrefix[:]); err != nil {
		return nil, fmt.Errorf("random nonce prefix: %w", err)
	}
	hdr, err := h.MarshalBinary()
	if err != nil {
		return nil, err
	}
	aead, err := fileAEAD(key, h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(hdr); err != nil {
		return nil, fmt.Errorf("write encryption header: %w", err)
	}
	return &Writer{
		dst:    w,
		aead:   aead,
		header: hdr,
		prefix: h.NoncePrefix,
		buf:    make([]byte, 0, chunkSize),
		out:    make([]byte, 0, chunkSize+Overhead),
	}, nil
}

// Write encrypts p. A full chunk is sealed only when more data follows it,
// so that Close can mark the true last chunk final.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("write to a closed encryption writer")
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == cap(w.buf) {
			if err := w.seal(false); err != nil {
				return n, err
			}
		}
		k := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		n += k
	}
	return n, nil
}

func (w *Writer) seal(final bool) error {
	if w.counter == maxChunks && !final {
		w.err = errors.New("encryption stream too long: chunk counter exhausted")
		return w.err
	}
	setNonce(w.nonce[:], &w.prefix, w.counter, final)
	w.out = w.aead.Seal(w.out[:0], w.nonce[:], w.buf, w.header)
	if _, err := w.dst.Write(w.out); err != nil {
		w.err = fmt.Errorf("write encrypted chunk %d: %w", w.counter, err)
		return w.err
	}
	w.counter++
	w.buf = w.buf[:0]
	return nil
}

// Close seals and writes the final chunk. It does not close the underlying
// writer. Calling it again does nothing.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	return w.seal(true)
}

// reader decrypts a stream; see [NewReader].
type reader struct {
	src     io.Reader
	aead    cipher.AEAD
	header  []byte
	prefix  [noncePrefixSize]byte
	nonce   [12]byte
	chunk   int    // sealed chunk size: plaintext chunk + Overhead
	buf     []byte // sealed bytes read ahead, len chunk+1
	have    int    // bytes of buf holding data read ahead
	pbuf    []byte // decrypted chunk, cap chunk size
	plain   []byte // decrypted bytes not yet returned, within pbuf
	counter uint32
	err     error // sticky, io.EOF at the end
}

// NewReader reads the header from r, finds its key in keys, and returns a
// reader of the plaintext. Errors from the returned reader wrap
// [ErrAuthentication], [ErrTruncated] or [ErrTrailingData] and name the
// chunk; a file sealed with a key keys lacks gives a [*UnknownKeyError].
// See the package documentation for why a consumer must wait for io.EOF
// before trusting what it read.
func NewReader(r io.Reader, keys *Keyring) (io.Reader, error) {
	h, err := ReadHeader(r)
	if err != nil {
		return nil, err
	}
	var key []byte
	ok := false
	if keys != nil {
		key, ok = keys.Lookup(h.KeyID)
	}
	if !ok {
		var have []string
		if keys != nil {
			have = keys.IDs()
		}
		return nil, &UnknownKeyError{KeyID: h.KeyID, Have: have}
	}
	aead, err := fileAEAD(key, h)
	if err != nil {
		return nil, err
	}
	hdr, err := h.MarshalBinary()
	if err != nil {
		return nil, err
	}
	chunk := h.ChunkSize + Overhead
	return &reader{
		src:    r,
		aead:   aead,
		header: hdr,
		prefix: h.NoncePrefix,
		chunk:  chunk,
		buf:    make([]byte, chunk+1),
		pbuf:   make([]byte, 0, h.ChunkSize),
	}, nil
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.err = r.next()
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// next reads and opens one chunk. It reads one byte past a full chunk to
// learn whether the chunk is the last one.
func (r *reader) next() error {
	n, err := io.ReadFull(r.src, r.buf[r.have:])
	n += r.have
	r.have = 0
	var final bool
	switch {
	case err == nil:
		// A full chunk and at least one byte more: not the last chunk.
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		final = true
	default:
		return fmt.Errorf("read encrypted chunk %d: %w", r.counter, err)
	}
	if !final {
		sealed := r.buf[:r.chunk]
		plain, err := r.open(sealed, false)
		if err != nil {
			if _, ferr := r.open(sealed, true); ferr == nil {
				return fmt.Errorf("chunk %d: %w", r.counter, ErrTrailingData)
			}
			return err
		}
		if r.counter == maxChunks {
			return fmt.Errorf("chunk %d: %w", r.counter, ErrTrailingData)
		}
		r.counter++
		r.plain = plain
		// Keep the byte read ahead: it starts the next chunk.
		r.buf[0] = r.buf[r.chunk]
		r.have = 1
		return nil
	}
	if n < Overhead {
		return fmt.Errorf("chunk %d: %w: the file ends without its final chunk", r.counter, ErrTruncated)
	}
	sealed := r.buf[:n]
	plain, oerr := r.open(sealed, true)
	if oerr != nil {
		if n == r.chunk {
			if _, nerr := r.open(sealed, false); nerr == nil {
				return fmt.Errorf("chunk %d: %w: the file ends without its final chunk", r.counter, ErrTruncated)
			}
		}
		return oerr
	}
	if len(plain) == 0 && r.counter > 0 {
		return fmt.Errorf("chunk %d: %w: empty final chunk", r.counter, ErrAuthentication)
	}
	r.plain = plain
	return io.EOF
}

func (r *reader) open(sealed []byte, final bool) ([]byte, error) {
	setNonce(r.nonce[:], &r.prefix, r.counter, final)
	plain, err := r.aead.Open(r.pbuf[:0], r.nonce[:], sealed, r.header)
	if err != nil {
		return nil, fmt.Errorf("chunk %d: %w: the data was modified, damaged or reordered", r.counter, ErrAuthentication)
	}
	return plain, nil
}
