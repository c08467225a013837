package crypto

import (
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

func reencrypt(dst io.Writer, src io.Reader, keys *Keyring, newKey []byte, rnd io.Reader, rb *ReencryptBuffer) (int64, error) {
	oh, err := ReadHeader(src)
	if err != nil {
		return 0, err
	}
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
		return 0, &UnknownKeyError{KeyID: oh.KeyID, Have: have}
	}
	if len(newKey) != KeySize {
		return 0, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidKey, len(newKey), KeySize)
	}
	open, err := fileAEAD(oldKey, oh)
	if err != nil {
		return 0, err
	}
	ohdr, err := oh.MarshalBinary()
	if err != nil {
		return 0, err
	}
	nh := &Header{Version: Version, Algorithm: AlgorithmAES256GCM, ChunkSize: oh.ChunkSize, KeyID: KeyID(newKey)}
	if _, err := io.ReadFull(rnd, nh.Salt[:]); err != nil {
		return 0, fmt.Errorf("random salt: %w", err)
	}
	if _, err := io.ReadFull(rnd, nh.NoncePrefix[:]); err != nil {
		return 0, fmt.Errorf("random nonce prefix: %w", err)
	}
	nhdr, err := nh.MarshalBinary()
	if err != nil {
		return 0, err
	}
	seal, err := fileAEAD(newKey, nh)
	if err != nil {
		return 0, err
	}
	if _, err := dst.Write(nhdr); err != nil {
		return 0, fmt.Errorf("write encryption header: %w", err)
	}

	sealed := oh.ChunkSize + Overhead
	batch := max(1, reencryptBatch*DefaultChunkSize/oh.ChunkSize)
	need := batch*sealed + 1 // one byte more: is the last chunk read the file's last?
	if rb == nil {
		rb = &ReencryptBuffer{}
	}
	if cap(rb.b) < need {
		rb.b = make([]byte, need)
	}
	buf := rb.b[:need]
	// Chunks are opened into plain, not in place: a chunk that fails
	// stays intact for telling truncation and trailing data from damage.
	// Sealing writes back where the chunk was read.
	if cap(rb.plain) < oh.ChunkSize {
		rb.plain = make([]byte, oh.ChunkSize)
	}
	plain := rb.plain[:0]
	var (
		nonce   [12]byte
		counter uint32
		have    int // bytes at the start of buf carried over (the look-ahead byte)
		total   int64
	)
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
			return total, fmt.Errorf("read encrypted chunk %d: %w", counter, rerr)
		}
		// Whole chunks in this batch that are certainly not the last.
		full := n / sealed
		if !eof {
			full = batch // n == need: batch chunks and the look-ahead byte
		} else if n%sealed == 0 && full > 0 {
			full-- // the file ends on a chunk boundary: the last one is final
		}
		out := 0
		for i := range full {
			c := buf[i*sealed : (i+1)*sealed]
			setNonce(nonce[:], &oh.NoncePrefix, counter, false)
			p, err := open.Open(plain, nonce[:], c, ohdr)
			if err != nil {
				setNonce(nonce[:], &oh.NoncePrefix, counter, true)
				if _, ferr := open.Open(nil, nonce[:], c, ohdr); ferr == nil {
					return total, fmt.Errorf("chunk %d: %w", counter, ErrTrailingData)
				}
				return total, fmt.Errorf("chunk %d: %w: the data was modified, damaged or reordered", counter, ErrAuthentication)
			}
			if counter == maxChunks {
				return total, fmt.Errorf("chunk %d: %w", counter, ErrTrailingData)
			}
			setNonce(nonce[:], &nh.NoncePrefix, counter, false)
			seal.Seal(c[:0], nonce[:], p, nhdr)
			counter++
			total += int64(len(p))
			out += sealed
		}
		if !eof {
			if _, err := dst.Write(buf[:out]); err != nil {
				return total, fmt.Errorf("write encrypted chunk %d: %w", counter-1, err)
			}
			buf[0] = buf[out]
			have = 1
			continue
		}
		// The rest is the final chunk.
		last := buf[out:n]
		if len(last) < Overhead {
			return total, fmt.Errorf("chunk %d: %w: the file ends without its final chunk", counter, ErrTruncated)
		}
		setNonce(nonce[:], &oh.NoncePrefix, counter, true)
		p, err := open.Open(plain, nonce[:], last, ohdr)
		if err != nil {
			if len(last) == sealed {
				setNonce(nonce[:], &oh.NoncePrefix, counter, false)
				if _, nerr := open.Open(nil, nonce[:], last, ohdr); nerr == nil {
					return total, fmt.Errorf("chunk %d: %w: the file ends without its final chunk", counter, ErrTruncated)
				}
			}
			return total, fmt.Errorf("chunk %d: %w: the data was modified, damaged or reordered", counter, ErrAuthentication)
		}
		if len(p) == 0 && counter > 0 {
			return total, fmt.Errorf("chunk %d: %w: empty final chunk", counter, ErrAuthentication)
		}
		setNonce(nonce[:], &nh.NoncePrefix, counter, true)
		seal.Seal(last[:0], nonce[:], p, nhdr)
		total += int64(len(p))
		if _, err := dst.Write(buf[:n]); err != nil {
			return total, fmt.Errorf("write encrypted chunk %d: %w", counter, err)
		}
		return total, nil
	}
}
