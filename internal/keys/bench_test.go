package keys

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/tars-ops/tarsctl/internal/crypto"
)

// BenchmarkMigrate re-encrypts a directory of 4 MiB checkpoint files, back
// and forth between two keys, through [Rotate] without daemons: scan,
// migrate (read, decrypt, encrypt, write a temp file, fsync, rename) and
// verify. The figures are plaintext bytes per second of the whole rotation
// (MB/s) and of the migrate phase alone (migrate-MB/s).
//
// TARS_KEYS_BENCH_DIR puts the data elsewhere (e.g. /dev/shm for the CPU
// path alone) and TARS_KEYS_BENCH_MIB sets its size (default 64);
// TARS_KEYS_BENCH_NOMMAP=1 reads the files instead of mapping them. The
// issue's figure is bench/keys.sh, which compares with the AES limit.
func BenchmarkMigrate(b *testing.B) {
	mib := 64
	if s := os.Getenv("TARS_KEYS_BENCH_MIB"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 4 {
			b.Fatalf("TARS_KEYS_BENCH_MIB=%q: want a size in MiB, at least 4", s)
		}
		mib = v
	}
	root := b.TempDir()
	if d := os.Getenv("TARS_KEYS_BENCH_DIR"); d != "" {
		var err error
		if root, err = os.MkdirTemp(d, "bench-migrate-"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = os.RemoveAll(root) })
	}
	keys := [2][]byte{make([]byte, crypto.KeySize), make([]byte, crypto.KeySize)}
	_, _ = rand.Read(keys[0])
	_, _ = rand.Read(keys[1])
	plain := make([]byte, 4<<20)
	_, _ = rand.Read(plain)
	for i := range mib / 4 {
		dir := filepath.Join(root, fmt.Sprintf("agent-%d", i%16))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("ckpt-%04d.qtable", i)))
		if err != nil {
			b.Fatal(err)
		}
		w, err := crypto.NewWriter(f, keys[0])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(plain); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	if os.Getenv("TARS_KEYS_BENCH_NOMMAP") == "1" {
		testOnlyNoMmap = true
		b.Cleanup(func() { testOnlyNoMmap = false })
	}
	b.SetBytes(int64(mib) << 20)
	from := 0
	var migrateSeconds float64
	for b.Loop() {
		res, err := Rotate(context.Background(), RotateOptions{DataDir: root, OldKey: keys[from], NewKey: keys[1-from]})
		if err != nil {
			b.Fatal(err)
		}
		if res.Rewritten != mib/4 {
			b.Fatalf("rewrote %d files, want %d", res.Rewritten, mib/4)
		}
		migrateSeconds += res.MigrateSeconds
		from = 1 - from
	}
	// The migrate phase alone, the figure bench/keys.sh compares.
	b.ReportMetric(float64(b.N*mib)*(1<<20)/1e6/migrateSeconds, "migrate-MB/s")
}
