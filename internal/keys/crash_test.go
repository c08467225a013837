package keys

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/progress"
)

// crashHelperEnv makes the test binary a rotation helper process instead
// of running tests: "DATA_DIR|OLD_KEY_FILE|NEW_KEY_FILE".
const crashHelperEnv = "TARS_KEYS_CRASH_HELPER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(crashHelperEnv); spec != "" {
		os.Exit(crashHelper(spec))
	}
	os.Exit(m.Run())
}

// lineReporter prints one line per progress event, so the parent can kill
// the helper at a chosen point of its work.
type lineReporter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (r *lineReporter) Report(e progress.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, "%s %d\n", e.Phase, e.Done)
	_ = r.w.Flush()
}
func (r *lineReporter) Done() {}

var _ progress.Reporter = (*lineReporter)(nil)

func crashHelper(spec string) int {
	parts := strings.Split(spec, "|")
	oldKey, err := LoadAESKey(parts[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	newKey, err := LoadAESKey(parts[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	testOnlyNoSync = true
	_, err = Rotate(context.Background(), RotateOptions{
		DataDir: parts[0], OldKey: oldKey, NewKey: newKey, Workers: 4,
		Progress: &lineReporter{w: bufio.NewWriter(os.Stdout)},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestRotateSurvivesSIGKILL re-encrypts a few thousand files in a helper
// process and kills it with SIGKILL at random points of its progress,
// again and again; each re-run resumes, and in the end every file opens
// with the new key to its original content: none lost, none encrypted
// twice.
func TestRotateSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	const files = 2000
	dir, keyDir := fastTempDir(t), t.TempDir()
	oldPath, newPath := filepath.Join(keyDir, "old.key"), filepath.Join(keyDir, "new.key")
	oldKey, newKey := writeKey(t, oldPath), writeKey(t, newPath)
	want := makeData(t, dir, files, oldKey)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(20261128)
	rng := rand.New(rand.NewPCG(seed, seed))
	t.Logf("seed %d", seed)

	const wantKills = 16
	kills, completed := 0, false
	for run := 0; run < wantKills+5 && !completed; run++ {
		// Kill after a random number of progress lines — one per file
		// re-encrypted or verified — so the kills land anywhere in the
		// migration (mid-file too: the workers run on while the signal
		// is delivered), in the verification, and between phases. Every
		// fourth kill aims at the verification. After wantKills kills the
		// helper is left to finish.
		killAt := -1
		if kills < wantKills {
			remaining := countSealedWith(t, dir, oldKey)
			if kills%4 == 3 {
				killAt = 3 + remaining + rng.IntN(files)
			} else {
				killAt = rng.IntN(remaining + 3)
			}
		}
		cmd := exec.CommandContext(t.Context(), exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashHelperEnv+"="+dir+"|"+oldPath+"|"+newPath)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		lines, killed := 0, false
		for sc.Scan() {
			if lines == killAt && !killed {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
			lines++
		}
		err = cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil && !killed:
			completed = true
		case killed && errors.As(err, &ee):
			kills++
		case killed && err == nil:
			// It finished before the signal landed: run again.
		default:
			t.Fatalf("run %d: %v: %s", run, err, stderr.String())
		}
	}
	if !completed {
		t.Fatalf("no run completed after %d kills", kills)
	}
	if kills < wantKills {
		t.Errorf("only %d kills: the test did not exercise crashes", kills)
	}
	t.Logf("%d SIGKILLs before the rotation completed", kills)
	checkData(t, want, newKey)
	leftovers, _ := filepath.Glob(filepath.Join(dir, "*", "*"+tempMarker+"*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %d", len(leftovers))
	}
	j, err := ReadJournal(dir)
	if err != nil || j.Phase != PhaseDone {
		t.Errorf("journal %+v, %v", j, err)
	}
}

// countSealedWith counts the files under dir whose header names key.
func countSealedWith(t testing.TB, dir string, key []byte) int {
	t.Helper()
	n := 0
	id := crypto.KeyID(key)
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.Contains(d.Name(), tempMarker) {
			if got, err := FileKeyID(p); err == nil && got == id {
				n++
			}
		}
		return err
	})
	return n
}

// fastTempDir is a temporary directory on a RAM file system when the
// machine has one (/dev/shm): the crash test rewrites thousands of small
// files many times, and what it checks does not depend on the disk.
func fastTempDir(t testing.TB) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "tarsctl-keys-"); err == nil {
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}
