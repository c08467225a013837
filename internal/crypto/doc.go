// Package crypto is tarsctl's encryption of data at rest: a streaming,
// chunked AES-256-GCM format for files of any size (backup parts,
// checkpoints, exported secrets), the key files it takes its keys from, and
// the key ids that say which key sealed a file. It uses the standard
// library only (crypto/aes, crypto/cipher, crypto/hkdf, crypto/rand).
//
// It never prints. Errors name the file, the key id or the chunk, never a
// key.
//
// # Format, version 1
//
// docs/encryption-format.md is the full specification; this is its
// summary. An encrypted file is a 57-byte header followed by chunks:
//
//	offset  size  field
//	0       7     magic "TARSENC"
//	7       1     version, 0x01
//	8       1     algorithm, 0x01: AES-256-GCM with an HKDF-SHA256 file key
//	9       1     chunk size as a power of two, 10..24 (16: 64 KiB, the default)
//	10      8     key id: the first 8 bytes of SHA-256(master key)
//	18      32    salt, random per file
//	50      7     nonce prefix, random per file
//	57            chunks
//
// The file key is HKDF-SHA256(master key, salt, "tarsctl-encryption-v1"),
// 32 bytes, so no two files share a key even under one master key. Chunk i
// (from 0) is the AES-256-GCM sealing of up to chunk-size bytes of
// plaintext, with the nonce
//
//	nonce prefix (7) || i as uint32 big-endian (4) || final flag (1)
//
// where the final flag is 0x01 on the last chunk and 0x00 on every other,
// and with the whole 57-byte header as additional data. Every chunk but the
// last holds exactly chunk-size bytes of plaintext; the last holds 1 to
// chunk-size bytes, or 0 when the whole plaintext is empty (a file is never
// just a header).
//
// # What a reader detects
//
// Because the counter and the final flag are in the nonce and the header is
// authenticated with every chunk: a flipped bit anywhere ([ErrAuthentication]
// naming the chunk), chunks reordered or repeated, a chunk moved in from
// another file (a different salt means a different file key), a file cut at
// a chunk boundary or inside a chunk ([ErrTruncated]), data appended after
// the final chunk ([ErrTrailingData]), a header that was edited (the first
// chunk fails), and a file sealed with a key the [Keyring] lacks
// ([*UnknownKeyError], which carries the key id).
//
// A reader returns plaintext chunk by chunk, before it has seen the end of
// the file, so a consumer must treat everything it read as untrusted until
// Read returns io.EOF: truncation is only known at the end.
//
// # Keys and key ids
//
// A master key is 32 bytes. [LoadKeyFile] reads one from a key file holding
// either 64 hex digits (what `openssl rand -hex 32` writes; surrounding
// whitespace is ignored) or exactly 32 raw bytes, and refuses anything else.
// It reports, without printing anything, whether the file can be read by
// other users, so the caller can warn. [KeyID] is the key's public name:
// the first 8 bytes of its SHA-256 in hex, the same as
//
//	xxd -r -p key.hex | sha256sum | cut -c1-16
//
// [ReadKeyID] reads it from a file's header, so a rotation can tell which
// files still need the old key, and a [Keyring] holds several keys at once
// so files sealed before a rotation stay readable.
package crypto
