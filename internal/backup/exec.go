package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// toolWaitDelay is how long a child gets to exit after SIGTERM before it is
// killed.
const toolWaitDelay = 10 * time.Second

// tailBuffer keeps the last max bytes written to it: the end of a child's
// stderr, where the reason for a failure is.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(strings.ToValidUTF8(string(t.b), "?"))
}

// toolRun is one run of a child program.
type toolRun struct {
	Name   string // for messages: "pg_dump"
	Path   string
	Args   []string
	Env    []string // added to the environment
	Stdin  io.Reader
	Stdout io.Writer
}

// run runs the program and waits for it. It fails when the program exits
// non-zero or dies from a signal — the check `pg_dump | gzip` without
// pipefail leaves out — and when copying its stdin or stdout fails; the
// error then carries the end of its stderr.
func (t toolRun) run(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, t.Path, t.Args...)
	cmd.Env = append(os.Environ(), t.Env...)
	cmd.SysProcAttr = childAttr()
	cmd.Cancel = terminate(cmd)
	cmd.WaitDelay = toolWaitDelay
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr

	var (
		wg            sync.WaitGroup
		inErr, outErr error
		stdin         io.WriteCloser
		stdout        io.ReadCloser
		err           error
	)
	if t.Stdin != nil {
		if stdin, err = cmd.StdinPipe(); err != nil {
			return err
		}
	}
	if t.Stdout != nil {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			return err
		}
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %s: %v", ErrToolMissing, t.Name, err)
		}
		return fmt.Errorf("start %s: %w", t.Name, err)
	}
	if stdin != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, inErr = io.CopyBuffer(stdin, t.Stdin, make([]byte, 256<<10))
			if cerr := stdin.Close(); inErr == nil && cerr != nil && !errors.Is(cerr, os.ErrClosed) {
				inErr = cerr
			}
			if inErr != nil {
				// The child must not take a cut-short input for a whole
				// one: stop it.
				_ = cmd.Process.Kill()
			}
		}()
	}
	if stdout != nil {
		_, outErr = io.CopyBuffer(t.Stdout, stdout, make([]byte, 256<<10))
		if outErr != nil {
			// We cannot store its output; do not let it run on.
			_ = cmd.Process.Kill()
			_, _ = io.Copy(io.Discard, stdout)
		}
	}
	wg.Wait()
	waitErr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case inErr != nil && !isBrokenPipe(inErr):
		return fmt.Errorf("feed %s: %w", t.Name, inErr)
	case outErr != nil:
		return fmt.Errorf("store the output of %s: %w", t.Name, outErr)
	case waitErr != nil:
		return &ToolError{Tool: t.Name, Err: waitErr, Stderr: stderr.String()}
	case inErr != nil:
		// The child exited 0 without reading all of its input.
		return fmt.Errorf("feed %s: %w", t.Name, inErr)
	}
	return nil
}

func isBrokenPipe(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed)
}
