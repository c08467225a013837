package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	// startTimeout bounds how long a server may take to log that it is ready.
	startTimeout = 20 * time.Second
	// stopTimeout is how long a server gets to exit after the stop signal
	// before it is killed.
	stopTimeout = 5 * time.Second
	// startAttempts is how many ports a server tries when another process
	// takes the free port between picking it and the server binding it.
	startAttempts = 5
	// logTailLines is how many of a server's last log lines errors quote.
	logTailLines = 30
)

// errAddrInUse means the server could not bind its port; starting it again on
// another port may work.
var errAddrInUse = errors.New("address already in use")

// runAs is the OS user a server runs as; nil means the current user.
type runAs struct {
	name     string
	uid, gid int
}

// process is a running server whose stdout and stderr are read line by line
// until it exits, keeping the last lines for error messages.
type process struct {
	name     string // program name for messages
	cmd      *exec.Cmd
	stopSig  os.Signal
	ready    chan struct{} // closed when the ready line has been logged
	exited   chan struct{} // closed when cmd.Wait has returned
	logDone  chan struct{} // closed when the log pipe reached EOF
	waitErr  error         // set before exited is closed
	stopOnce sync.Once
	stopErr  error

	addrInUse atomic.Bool // the log said the port was taken

	mu   sync.Mutex
	tail []string // last logTailLines lines of output
}

// startProcess starts cmd with its output going to a pipe that is scanned for
// readyLine. It does not wait for readiness; see [process.waitReady].
func startProcess(name string, cmd *exec.Cmd, readyLine string, stopSig os.Signal) (*process, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	// An *os.File as Stdout and Stderr is handed to the child as is, with no
	// copying goroutine that cmd.Wait would have to wait for. That matters for
	// postgres, whose backends inherit the pipe.
	cmd.Stdout = w
	cmd.Stderr = w
	err = startCmd(cmd)
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{
		name:    name,
		cmd:     cmd,
		stopSig: stopSig,
		ready:   make(chan struct{}),
		exited:  make(chan struct{}),
		logDone: make(chan struct{}),
	}
	go p.readLog(r, readyLine)
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// readLog keeps reading until EOF, after readiness too: a server blocks once
// the pipe buffer is full if nobody drains it.
func (p *process) readLog(r *os.File, readyLine string) {
	defer close(p.logDone)
	defer r.Close()
	br := bufio.NewReader(r)
	ready := false
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			line = strings.TrimRight(line, "\r\n")
			p.mu.Lock()
			p.tail = append(p.tail, line)
			if len(p.tail) > logTailLines {
				p.tail = p.tail[len(p.tail)-logTailLines:]
			}
			p.mu.Unlock()
			if strings.Contains(line, "Address already in use") {
				p.addrInUse.Store(true)
			}
			if !ready && strings.Contains(line, readyLine) {
				ready = true
				close(p.ready)
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				p.appendTail(fmt.Sprintf("[testenv: read %s output: %v]", p.name, err))
			}
			return
		}
	}
}

func (p *process) appendTail(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tail = append(p.tail, line)
}

// logTail returns the last lines the server logged, indented for quoting.
func (p *process) logTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tail) == 0 {
		return "\t(no output)"
	}
	return "\t" + strings.Join(p.tail, "\n\t")
}

// waitReady waits until the server logs its ready line, exits, or ctx ends.
// On failure the server is stopped and the error quotes its last log lines;
// it wraps errAddrInUse when the port was taken.
func (p *process) waitReady(ctx context.Context) error {
	select {
	case <-p.ready:
		return nil
	case <-p.exited:
		// Give the reader a moment to collect the last lines; a child of the
		// server may still hold the pipe open, so don't wait for EOF forever.
		waitOrTimeout(p.logDone, time.Second)
		err := fmt.Errorf("%s exited before it was ready (%v); last log lines:\n%s", p.name, p.waitErr, p.logTail())
		if p.addrInUse.Load() {
			err = fmt.Errorf("%w: %w", errAddrInUse, err)
		}
		_ = p.stop()
		return err
	case <-ctx.Done():
		_ = p.stop()
		return fmt.Errorf("%s not ready: %w; last log lines:\n%s", p.name, context.Cause(ctx), p.logTail())
	}
}

// stop sends the stop signal, waits up to stopTimeout, kills the process
// group if it is still running, and waits for it. It is safe to call more
// than once. The error says whether the server had to be killed.
func (p *process) stop() error {
	p.stopOnce.Do(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Signal(p.stopSig)
			if !waitOrTimeout(p.exited, stopTimeout) {
				killGroup(p.cmd.Process)
				<-p.exited
				p.stopErr = fmt.Errorf("%s did not exit within %v of %v and was killed; last log lines:\n%s",
					p.name, stopTimeout, p.stopSig, p.logTail())
			}
		}
		waitOrTimeout(p.logDone, 2*time.Second)
	})
	return p.stopErr
}

// waitOrTimeout reports whether ch was closed within d.
func waitOrTimeout(ch <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another
// process may take it before the server binds it, hence startAttempts.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	return port, nil
}

// startOnFreePort calls start with ports from pick (normally [freePort])
// until it succeeds, fails for a reason other than a taken port, or has tried
// startAttempts ports. Each attempt gets startTimeout to become ready.
func startOnFreePort(ctx context.Context, pick func() (int, error), start func(ctx context.Context, port int) error) error {
	var err error
	for range startAttempts {
		var port int
		port, err = pick()
		if err != nil {
			return err
		}
		actx, cancel := context.WithTimeoutCause(ctx, startTimeout,
			fmt.Errorf("no ready line within %v", startTimeout))
		err = start(actx, port)
		cancel()
		if !errors.Is(err, errAddrInUse) {
			return err
		}
	}
	return fmt.Errorf("tried %d ports: %w", startAttempts, err)
}

// FreePort returns a loopback port that was free a moment ago, for tests
// that must hand a port number to a process they start.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
