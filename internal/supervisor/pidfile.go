package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
)

var errZombie = errors.New("zombie process")

// Pidfile is what RUN_DIR/<service>.pid records.
type Pidfile struct {
	Service   string    `json:"service"`
	PID       int       `json:"pid"`
	StartTime uint64    `json:"start_time"` // clock ticks since boot, from /proc
	Port      int       `json:"port"`
	Version   string    `json:"version"`
	Command   []string  `json:"command"`
	StartedAt time.Time `json:"started_at"`
	LogFile   string    `json:"log_file"`
}

func (s *Supervisor) pidPath(service string) string {
	return filepath.Join(s.opts.RunDir, service+".pid")
}

func (s *Supervisor) readPidfile(service string) (*Pidfile, error) {
	b, err := os.ReadFile(s.pidPath(service))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pidfile: %w", err)
	}
	var p Pidfile
	if err := json.Unmarshal(b, &p); err != nil || p.PID <= 0 {
		// An unreadable pidfile names no process we could trust.
		return &Pidfile{Service: service}, nil
	}
	return &p, nil
}

func (s *Supervisor) writePidfile(p *Pidfile) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(s.pidPath(p.Service), append(b, '\n'), atomicfile.Options{Perm: 0o644})
}

func (s *Supervisor) removePidfile(service string) error {
	if err := os.Remove(s.pidPath(service)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove pidfile: %w", err)
	}
	return nil
}

// alive reports whether the pidfile's process is still the one that was
// started: it exists, is not a zombie, and has the recorded start time.
func alive(p *Pidfile) bool {
	if p == nil || p.PID <= 0 {
		return false
	}
	st, err := startTime(p.PID)
	if err != nil {
		return false
	}
	return p.StartTime == 0 || st == 0 || st == p.StartTime
}

// lock takes RUN_DIR/<service>.lock for the duration of one operation.
func (s *Supervisor) lock(service string) (func(), error) {
	if err := os.MkdirAll(s.opts.RunDir, 0o750); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.opts.RunDir, service+".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", service, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
