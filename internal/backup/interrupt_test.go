package backup

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// helperEnv makes the test binary, started again by a test, run a backup
// instead of the tests (see TestMain).
const helperEnv = "TARSCTL_BACKUP_TEST_HELPER"

// helperMain runs in the child: it starts a backup of a source that writes
// half its data, tells the parent on stdout, and then waits on stdin, which
// the parent never writes to, until it is killed.
func helperMain() int {
	repoDir := os.Getenv(helperEnv)
	r, err := Open(repoDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	src := &haltingSource{}
	_, err = r.Create(context.Background(), CreateOptions{Sources: []Source{&DirSource{Name: "first", Path: os.Getenv(helperEnv + "_DIR")}, src}})
	fmt.Fprintln(os.Stderr, "create returned:", err)
	return 1
}

type haltingSource struct{}

func (*haltingSource) Spec() PartSpec {
	return PartSpec{Name: "halting", Kind: KindConfig, Format: FormatYAML, Source: "test", Ext: ".yaml", Compress: true}
}

func (*haltingSource) Dump(_ context.Context, w io.Writer) (DumpResult, error) {
	if _, err := w.Write([]byte(strings.Repeat("a: b\n", 100_000))); err != nil {
		return DumpResult{}, err
	}
	fmt.Println("halfway")
	_, _ = io.Copy(io.Discard, os.Stdin) // until killed
	return DumpResult{}, fmt.Errorf("stdin closed")
}

// TestInterruptedBackup kills a backup with SIGKILL in the middle of a part
// and checks that nothing it wrote is listed as a backup, that the lock it
// held is reported as stale, and that the next backup works and cleans up.
func TestInterruptedBackup(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	data := t.TempDir()
	if err := os.WriteFile(data+"/f", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+r.Dir(), helperEnv+"_DIR="+data)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe() // held open: the child blocks on it
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "halfway\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper said %q, %v; stderr:\n%s", line, err, stderr.String())
	}
	// The child holds the lock now.
	if _, err := r.Lock("prune", fixedNow); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", cmd.Process.Pid)) {
		t.Errorf("lock while the backup runs: %v, want locked by pid %d", err, cmd.Process.Pid)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	sets, err := r.List()
	if err != nil || len(sets) != 0 {
		t.Fatalf("after the kill, List = %d sets, %v; want none", len(sets), err)
	}
	inc, err := r.Incomplete()
	if err != nil || len(inc) != 1 {
		t.Fatalf("Incomplete = %v, %v; want the killed backup", inc, err)
	}
	st, err := r.LockState()
	if err != nil || st.Holder == nil || st.Holder.PID != cmd.Process.Pid || !st.Stale {
		t.Errorf("LockState = %+v, %v; want a stale lock of pid %d", st, err, cmd.Process.Pid)
	}

	res, err := r.Create(t.Context(), CreateOptions{Sources: []Source{&DirSource{Name: "first", Path: data}}, Now: clock(fixedNow)})
	if err != nil {
		t.Fatalf("the next backup: %v", err)
	}
	if res.StaleLock == nil || res.StaleLock.PID != cmd.Process.Pid || res.StaleLock.Operation != "create" {
		t.Errorf("StaleLock = %+v, want the killed pid %d", res.StaleLock, cmd.Process.Pid)
	}
	if len(res.RemovedIncomplete) != 1 || res.RemovedIncomplete[0] != inc[0] {
		t.Errorf("RemovedIncomplete = %v, want %v", res.RemovedIncomplete, inc)
	}
	if sets, _ := r.List(); len(sets) != 1 || !sets[0].Good() {
		t.Errorf("after the next backup: %d sets", len(sets))
	}
	if inc, _ := r.Incomplete(); len(inc) != 0 {
		t.Errorf("incomplete sets left: %v", inc)
	}
	if st, _ := r.LockState(); st.Holder != nil {
		t.Errorf("lock still held after the backup: %+v", st)
	}
}
