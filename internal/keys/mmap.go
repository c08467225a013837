package keys

import (
	"errors"
	"io"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"

	"github.com/tars-ops/tarsctl/internal/crypto"
)

// errShrunk is returned when the file being re-encrypted from a mapping
// was truncated underneath it (reading past the new end faults). Writers
// replace files by rename, so this takes a writer that breaks the
// protocol; the rotation stops with an error and the file is left as is.
var errShrunk = errors.New("the file was truncated while it was being read; re-run the rotation")

// testOnlyNoMmap makes [reencryptFile] read, for the benchmark's
// comparison (TARS_KEYS_BENCH_NOMMAP=1).
var testOnlyNoMmap = false

// reencryptFile re-encrypts src, of the given size, into dst. It maps the
// file read-only and works on the mapping, which saves copying every byte
// out of the page cache (a fifth of the CPU time on fast storage); where
// a mapping is not possible it reads the file.
func reencryptFile(buf *crypto.ReencryptBuffer, dst io.Writer, src *os.File, size int64, ring *crypto.Keyring, newKey []byte) (n int64, err error) {
	if size <= 0 || int64(int(size)) != size || testOnlyNoMmap {
		return crypto.ReencryptWith(buf, dst, src, ring, newKey)
	}
	m, err := unix.Mmap(int(src.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return crypto.ReencryptWith(buf, dst, src, ring, newKey)
	}
	defer func() { _ = unix.Munmap(m) }()
	_ = unix.Madvise(m, unix.MADV_SEQUENTIAL)
	// A read past the end of a file truncated meanwhile raises SIGBUS:
	// make it a panic of this goroutine, and the panic an error.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			n, err = 0, errShrunk
		}
	}()
	return crypto.ReencryptBytes(buf, dst, m, ring, newKey)
}
