package crypto

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// reencryptBatch is how many chunks [Reencrypt] reads, transforms and
// writes at a time: 16 default chunks are 1 MiB per read and per write.
const reencryptBatch = 16

// Reencrypt reads an encrypted file from src, opens it with the key of
// keys that sealed it, and writes it to dst sealed with newKey (new salt
// and nonce prefix, same chunk size), chunk for chunk. It authenticates
// every chunk as [NewReader] does — a damaged, truncated or extended file
// is an error — and works in one buffer: each batch of chunks is read with
// one call, each chunk opened into a scratch chunk and sealed back where it
// lay, and the batch written with one call, so it neither allocates nor
// copies per chunk. It returns the
// plaintext size. Nothing written to dst may be trusted unless the error
// is nil.
func Reencrypt(dst io.Writer, src io.Reader, keys *Keyring, newKey []byte) (int64, error) {
	return reencrypt(dst, src, keys, newKey, rand.Reader, nil)
}

// ReencryptBuffer is a reusable buffer for [ReencryptWith]: one per
// worker saves a 1 MiB allocation per file.
type ReencryptBuffer struct{ b, plain []byte }

// ReencryptWith is [Reencrypt] with a buffer kept between calls.
func ReencryptWith(buf *ReencryptBuffer, dst io.Writer, src io.Reader, keys *Keyring, newKey []byte) (int64, error) {
	return reencrypt(dst, src, keys, newKey, rand.Reader, buf)
}

// rekeyer opens the chunks of one file, sealed under its file key, and
// seals them under a new file key, counting as it goes. Its errors are the
// reader's: the same damage gives the same error whichever way the file
// is read.
type rekeyer struct {
	open, seal cipher.AEAD
	oldPrefix  *[noncePrefixSize]byte
	newPrefix  *[noncePrefixSize]byte
	ohdr, nhdr []byte // the headers, authenticated with every chunk
	sealedSize int    // a full sealed chunk
	nonce      [12]byte
	counter    uint32
	total      int64 // plaintext bytes so far
}

// newRekeyer looks up the key of oh in keys and makes a new header, with a
// fresh salt and nonce prefix from rnd, for newKey.
func newRekeyer(oh *Header, keys *Keyring, newKey []byte, rnd io.Reader) (*rekeyer, error) {
	var oldKey []byte
	ok := false
	if keys != nil {
		oldKey, ok = keys.Lookup(oh.KeyID)
	}
	if !ok {
		var have []string
		if keys != nil {
			have = keys.IDs()
		}
		return nil, &UnknownKeyError{KeyID: oh.KeyID, Have: have}
	}
	if len(newKey) != KeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidKey, len(newKey), KeySize)
	}
	open, err := fileAEAD(oldKey, oh)
	if err != nil {
		return nil, err
	}
	ohdr, err := oh.MarshalBinary()
	if err != nil {
		return nil, err
	}
	nh := &Header{Version: Version, Algorithm: AlgorithmAES256GCM, ChunkSize: oh.ChunkSize, KeyID: KeyID(newKey)}
	if _, err := io.ReadFull(rnd, nh.Salt[:]); err != nil {
		return nil, fmt.Errorf("random salt: %w", err)
	}
	if _, err := io.ReadFull(rnd, nh.NoncePrefix[:]); err != nil {
		return nil, fmt.Errorf("random nonce prefix: %w", err)
	}
	nhdr, err := nh.MarshalBinary()
	if err != nil {
		return nil, err
	}
	seal, err := fileAEAD(newKey, nh)
	if err != nil {
		return nil, err
	}
	return &rekeyer{
		open: open, seal: seal,
		oldPrefix: &oh.NoncePrefix, newPrefix: &nh.NoncePrefix,
		ohdr: ohdr, nhdr: nhdr,
		sealedSize: oh.ChunkSize + Overhead,
	}, nil
}

// chunk opens the sealed chunk c into the scratch plain (cap: the chunk
// size) and appends it, sealed under the new key, to dst, which may be
// c[:0]. final says whether c is the file's last chunk: a chunk is final
// when nothing follows it.
func (k *rekeyer) chunk(dst, c, plain []byte, final bool) ([]byte, error) {
	if final && len(c) < Overhead {
		return nil, fmt.Errorf("chunk %d: %w: the file ends without its final chunk", k.counter, ErrTruncated)
	}
	setNonce(k.nonce[:], k.oldPrefix, k.counter, final)
	p, err := k.open.Open(plain[:0], k.nonce[:], c, k.ohdr)
	if err != nil {
		// Tell a truncated or extended file from a damaged one: the
		// chunk may open with the other finality.
		if final && len(c) != k.sealedSize {
			return nil, k.damaged()
		}
		setNonce(k.nonce[:], k.oldPrefix, k.counter, !final)
		if _, oerr := k.open.Open(plain[:0], k.nonce[:], c, k.ohdr); oerr == nil {
			if final {
				return nil, fmt.Errorf("chunk %d: %w: the file ends without its final chunk", k.counter, ErrTruncated)
			}
			return nil, fmt.Errorf("chunk %d: %w", k.counter, ErrTrailingData)
		}
		return nil, k.damaged()
	}
	if final && len(p) == 0 && k.counter > 0 {
		return nil, fmt.Errorf("chunk %d: %w: empty final chunk", k.counter, ErrAuthentication)
	}
	if !final && k.counter == maxChunks {
		return nil, fmt.Errorf("chunk %d: %w", k.counter, ErrTrailingData)
	}
	setNonce(k.nonce[:], k.newPrefix, k.counter, final)
	dst = k.seal.Seal(dst, k.nonce[:], p, k.nhdr)
	k.counter++
	k.total += int64(len(p))
	return dst, nil
}

func (k *rekeyer) damaged() error {
	return fmt.Errorf("chunk %d: %w: the data was modified, damaged or reordered", k.counter, ErrAuthentication)
}

// buffers sizes rb for chunks of chunkSize: batch sealed chunks plus one
// byte (the reader's look-ahead) and one plaintext chunk.
func (rb *ReencryptBuffer) buffers(chunkSize int) (batch int, b, plain []byte) {
	sealed := chunkSize + Overhead
	batch = max(1, reencryptBatch*DefaultChunkSize/chunkSize)
	need := batch*sealed + 1
	if cap(rb.b) < need {
		rb.b = make([]byte, need)
	}
	if cap(rb.plain) < chunkSize {
		rb.plain = make([]byte, chunkSize)
	}
	return batch, rb.b[:need], rb.plain[:chunkSize]
}

func reencrypt(dst io.Writer, src io.Reader, keys *Keyring, newKey []byte, rnd io.Reader, rb *ReencryptBuffer) (int64, error) {
	oh, err := ReadHeader(src)
	if err != nil {
		return 0, err
	}
	k, err := newRekeyer(oh, keys, newKey, rnd)
	if err != nil {
		return 0, err
	}
	if _, err := dst.Write(k.nhdr); err != nil {
		return 0, fmt.Errorf("write encryption header: %w", err)
	}
	if rb == nil {
		rb = &ReencryptBuffer{}
	}
	// Chunks are opened into plain, not in place: a chunk that fails
	// stays intact for telling truncation and trailing data from damage.
	// Sealing writes back where the chunk was read.
	batch, buf, plain := rb.buffers(oh.ChunkSize)
	sealed := k.sealedSize
	have := 0 // bytes at the start of buf carried over (the look-ahead byte)
	for {
		n, rerr := io.ReadFull(src, buf[have:])
		n += have
		have = 0
		eof := false
		switch {
		case rerr == nil:
		case errors.Is(rerr, io.EOF), errors.Is(rerr, io.ErrUnexpectedEOF):
			eof = true
		default:
			return k.total, fmt.Errorf("read encrypted chunk %d: %w", k.counter, rerr)
		}
		// Whole chunks in this batch that are certainly not the last.
		full := n / sealed
		if !eof {
			full = batch // n == len(buf): batch chunks and the look-ahead byte
		} else if n%sealed == 0 && full > 0 {
			full-- // the file ends on a chunk boundary: the last one is final
		}
		out := full * sealed
		for i := range full {
			c := buf[i*sealed : (i+1)*sealed]
			if _, err := k.chunk(c[:0], c, plain, false); err != nil {
				return k.total, err
			}
		}
		if !eof {
			if _, err := dst.Write(buf[:out]); err != nil {
				return k.total, fmt.Errorf("write encrypted chunk %d: %w", k.counter-1, err)
			}
			buf[0] = buf[out]
			have = 1
			continue
		}
		// The rest is the final chunk.
		last := buf[out:n]
		if _, err := k.chunk(last[:0], last, plain, true); err != nil {
			return k.total, err
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return k.total, fmt.Errorf("write encrypted chunk %d: %w", k.counter, err)
		}
		return k.total, nil
	}
}

// ReencryptBytes is [ReencryptWith] for a file already in memory, such as
// a read-only mapping of it: chunks are opened straight from src, with no
// read copy, and written in batches of 1 MiB. It authenticates as
// [Reencrypt] does and returns the same errors.
func ReencryptBytes(buf *ReencryptBuffer, dst io.Writer, src []byte, keys *Keyring, newKey []byte) (int64, error) {
	return reencryptBytes(dst, src, keys, newKey, rand.Reader, buf)
}

func reencryptBytes(dst io.Writer, src []byte, keys *Keyring, newKey []byte, rnd io.Reader, rb *ReencryptBuffer) (int64, error) {
	oh, err := ParseHeader(src)
	if err != nil {
		return 0, err
	}
	k, err := newRekeyer(oh, keys, newKey, rnd)
	if err != nil {
		return 0, err
	}
	if rb == nil {
		rb = &ReencryptBuffer{}
	}
	_, buf, plain := rb.buffers(oh.ChunkSize)
	out := append(buf[:0], k.nhdr...)
	sealed := k.sealedSize
	body := src[HeaderSize:]
	// A chunk with at least one byte after it is not the last.
	for len(body) > sealed {
		if len(out)+sealed > cap(out) {
			if _, err := dst.Write(out); err != nil {
				return k.total, fmt.Errorf("write encrypted chunk %d: %w", k.counter-1, err)
			}
			out = out[:0]
		}
		if out, err = k.chunk(out, body[:sealed], plain, false); err != nil {
			return k.total, err
		}
		body = body[sealed:]
	}
	if len(out)+len(body) > cap(out) {
		if _, err := dst.Write(out); err != nil {
			return k.total, fmt.Errorf("write encrypted chunk %d: %w", k.counter-1, err)
		}
		out = out[:0]
	}
	if out, err = k.chunk(out, body, plain, true); err != nil {
		return k.total, err
	}
	if _, err := dst.Write(out); err != nil {
		return k.total, fmt.Errorf("write encrypted chunk %d: %w", k.counter, err)
	}
	return k.total, nil
}
