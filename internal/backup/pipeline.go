package backup

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"

	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/progress"
)

// reportEvery is how many bytes pass between two progress reports: often
// enough for a live line, rare enough that a JSON stream stays short.
const reportEvery = 8 << 20

// ioBufferSize is the buffer between the pipeline and the disk.
const ioBufferSize = 1 << 20

// Compression levels of the parts tarsctl compresses ([CreateOptions]).
const (
	// CompressFast is zstd's fastest level, about the zstd command's -1.
	CompressFast = "fast"
	// CompressDefault is about the zstd command's default, -3.
	CompressDefault = "default"
	// CompressMax trades much more CPU for a few percent, about -7.
	CompressMax = "max"
)

// CompressionLevels lists the levels, fastest first.
var CompressionLevels = []string{CompressFast, CompressDefault, CompressMax}

// zstdLevel maps a level name to klauspost's encoder level.
func zstdLevel(name string) (zstd.EncoderLevel, error) {
	switch name {
	case CompressFast:
		return zstd.SpeedFastest, nil
	case CompressDefault, "":
		return zstd.SpeedDefault, nil
	case CompressMax:
		return zstd.SpeedBetterCompression, nil
	}
	return 0, fmt.Errorf("compression level %q: want fast, default or max", name)
}

// hashWriter hashes and counts what goes through it.
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

// hashReader hashes and counts what is read through it.
type hashReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (hr *hashReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	hr.n += int64(n)
	return n, err
}

// meter counts bytes and reports progress every reportEvery bytes.
type meter struct {
	phase string
	total int64
	p     progress.Reporter
	n     int64
	next  int64
}

func newMeter(p progress.Reporter, phase string, total int64) *meter {
	return &meter{phase: phase, total: total, p: p, next: reportEvery}
}

func (m *meter) add(n int) {
	m.n += int64(n)
	if m.n >= m.next {
		m.next = m.n + reportEvery
		m.p.Report(progress.Event{Phase: m.phase, Done: m.n, Total: m.total, Unit: "bytes"})
	}
}

func (m *meter) done(msg string) {
	m.p.Report(progress.Event{Phase: m.phase, Message: msg, Done: m.n, Total: m.total, Unit: "bytes"})
}

type meterWriter struct {
	w io.Writer
	m *meter
}

func (mw meterWriter) Write(p []byte) (int, error) {
	n, err := mw.w.Write(p)
	mw.m.add(n)
	return n, err
}

type meterReader struct {
	r io.Reader
	m *meter
}

func (mr meterReader) Read(p []byte) (int, error) {
	n, err := mr.r.Read(p)
	mr.m.add(n)
	return n, err
}

// encoder is the write side of a part: content → zstd → AES-256-GCM →
// SHA-256 → file. Close finishes every layer, innermost first.
type encoder struct {
	f   *os.File
	buf *bufio.Writer
	hw  *hashWriter
	enc *crypto.Writer
	zw  *parallelZstd
	w   io.Writer // where content goes
	raw int64
}

func newEncoder(f *os.File, key []byte, compress bool, level zstd.EncoderLevel) (*encoder, error) {
	e := &encoder{f: f, buf: bufio.NewWriterSize(f, ioBufferSize)}
	e.hw = &hashWriter{w: e.buf, h: sha256.New()}
	e.w = e.hw
	if key != nil {
		cw, err := crypto.NewWriter(e.w, key)
		if err != nil {
			return nil, err
		}
		e.enc, e.w = cw, cw
	}
	if compress {
		// Frames carry their content checksum (xxhash64) too: a decoder
		// then catches a bug in any layer above it.
		zw, err := newParallelZstd(e.w, level)
		if err != nil {
			return nil, err
		}
		e.zw, e.w = zw, zw
	}
	return e, nil
}

func (e *encoder) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	e.raw += int64(n)
	return n, err
}

// Close flushes and syncs the file and returns its size and SHA-256.
func (e *encoder) Close() (size int64, sum string, err error) {
	if e.zw != nil {
		if err := e.zw.Close(); err != nil {
			return 0, "", fmt.Errorf("compress: %w", err)
		}
	}
	if e.enc != nil {
		if err := e.enc.Close(); err != nil {
			return 0, "", fmt.Errorf("encrypt: %w", err)
		}
	}
	if err := e.buf.Flush(); err != nil {
		return 0, "", err
	}
	if err := e.f.Sync(); err != nil {
		return 0, "", err
	}
	return e.hw.n, hexSum(e.hw.h.Sum(nil)), nil
}

// abort releases the compressor's goroutines after a failure.
func (e *encoder) abort() {
	if e.zw != nil {
		e.zw.abort()
	}
}

// partReader is the read side of a part: file → SHA-256 → AES-256-GCM →
// zstd → content. Finish checks the file's size and checksum after the
// content was read to its end.
type partReader struct {
	f   *os.File
	hr  *hashReader
	zr  *zstd.Decoder
	r   io.Reader // content
	p   Part
	dec bool // content is decoded (false: only hashing)
}

// openPart opens a part's file for reading. With decode, the returned
// reader yields the content (decrypted with keys, decompressed); without,
// the raw file, and only checksums are checked.
func openPart(dir string, p Part, keys *crypto.Keyring, decode bool, m *meter) (*partReader, error) {
	f, err := os.Open(filepath.Join(dir, p.File))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s is not in the set", ErrMissingPart, p.File)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Size() != p.Size {
		f.Close()
		return nil, sizeError(fi.Size(), p.Size)
	}
	pr := &partReader{f: f, p: p}
	var src io.Reader = bufio.NewReaderSize(f, ioBufferSize)
	if m != nil {
		src = meterReader{r: src, m: m}
	}
	pr.hr = &hashReader{r: src, h: sha256.New()}
	pr.r = pr.hr
	if !decode {
		return pr, nil
	}
	pr.dec = true
	if p.KeyID != "" {
		if keys == nil {
			f.Close()
			return nil, fmt.Errorf("%w: the part is encrypted with key %s", ErrKeyRequired, p.KeyID)
		}
		cr, err := crypto.NewReader(pr.r, keys)
		if err != nil {
			f.Close()
			if errors.Is(err, crypto.ErrUnknownKey) {
				return nil, fmt.Errorf("%w: %v", ErrKeyRequired, err)
			}
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		pr.r = cr
	}
	if p.Compression == CompressionZstd {
		zr, err := zstd.NewReader(pr.r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(128<<20))
		if err != nil {
			f.Close()
			return nil, err
		}
		pr.zr, pr.r = zr, zr
	}
	return pr, nil
}

func sizeError(got, want int64) error {
	if got < want {
		return fmt.Errorf("%w: truncated: the file is %d bytes, the manifest says %d", ErrSizeMismatch, got, want)
	}
	return fmt.Errorf("%w: the file is %d bytes, the manifest says %d", ErrSizeMismatch, got, want)
}

// Read reads the content. Errors from the decryption and decompression
// layers are reported as corruption.
func (pr *partReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	if err != nil && err != io.EOF && pr.dec {
		return n, contentError(err)
	}
	return n, err
}

// contentError classifies an error from the decoding layers.
func contentError(err error) error {
	switch {
	case errors.Is(err, ErrCorrupt), errors.Is(err, ErrUnsafeArchive):
		return err
	case errors.Is(err, crypto.ErrAuthentication), errors.Is(err, crypto.ErrTruncated), errors.Is(err, crypto.ErrTrailingData),
		errors.Is(err, zstd.ErrCRCMismatch), errors.Is(err, zstd.ErrMagicMismatch), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	default:
		var pathErr *os.PathError
		if errors.As(err, &pathErr) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
}

// Finish drains what the consumer left unread, then checks the file's
// size and SHA-256 against the manifest. It closes the file.
func (pr *partReader) Finish() error {
	defer pr.Close()
	if pr.dec {
		// A consumer that stopped early leaves content; decoding it all
		// checks the zstd frame checksum and the final encrypted chunk.
		if _, err := io.Copy(io.Discard, pr); err != nil {
			return err
		}
	}
	// Hash whatever the decoders did not read (nothing, normally).
	if _, err := io.Copy(io.Discard, pr.hr); err != nil {
		return err
	}
	if pr.hr.n != pr.p.Size {
		return sizeError(pr.hr.n, pr.p.Size)
	}
	if got := hexSum(pr.hr.h.Sum(nil)); got != pr.p.SHA256 {
		return fmt.Errorf("%w: SHA-256 of %s is %s, the manifest says %s", ErrChecksum, pr.p.File, got, pr.p.SHA256)
	}
	return nil
}

// Close releases the file and the decoder.
func (pr *partReader) Close() {
	if pr.zr != nil {
		pr.zr.Close()
		pr.zr = nil
	}
	if pr.f != nil {
		pr.f.Close()
		pr.f = nil
	}
}

// hashFile returns the size and SHA-256 of a file.
func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, bufio.NewReaderSize(f, ioBufferSize))
	if err != nil {
		return 0, "", err
	}
	return n, hexSum(h.Sum(nil)), nil
}
