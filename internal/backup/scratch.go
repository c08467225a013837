package backup

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tars-ops/tarsctl/internal/crypto"

	"github.com/tars-ops/tarsctl/internal/redisconn"
)

// ScratchOptions say where deep verification runs its scratch servers.
type ScratchOptions struct {
	// Dir is where scratch directories are made; empty means os.TempDir().
	// It needs room for the largest part restored.
	Dir string
	// PgBinDir holds initdb and postgres; empty means the newest
	// /usr/lib/postgresql/*/bin, or PATH.
	PgBinDir string
	// RedisServer is the redis-server to run; empty finds it on PATH.
	RedisServer string
	// StartTimeout bounds starting a scratch server, which includes
	// loading an RDB; 0 means 5 minutes.
	StartTimeout time.Duration
}

// errScratch marks a scratch server that could not be set up: a problem
// with this machine, not with the backup.
var errScratch = errors.New("scratch server")

// deepCheck restores a part into a scratch target and checks the result.
// It returns a note on what was restored.
func deepCheck(ctx context.Context, setDir string, p Part, keys *crypto.Keyring, opts ScratchOptions) (string, error) {
	tmp, err := os.MkdirTemp(opts.Dir, "tarsctl-verify-")
	if err != nil {
		return "", fmt.Errorf("%w: %v", errScratch, err)
	}
	defer os.RemoveAll(tmp)
	restore := func(t Target) (Restored, error) {
		var res Restored
		err := readPart(ctx, setDir, p, keys, true, nil, func(r io.Reader) error {
			var err error
			res, err = t.Restore(ctx, r, p)
			return err
		})
		return res, err
	}
	switch p.Kind {
	case KindDir:
		res, err := restore(&DirTarget{Path: filepath.Join(tmp, "restore")})
		if err != nil {
			return "", err
		}
		if res.Entries != p.Entries {
			return "", fmt.Errorf("%w: restored %d entries, the manifest says %d", ErrCorrupt, res.Entries, p.Entries)
		}
		return fmt.Sprintf("%d files and directories restored", res.Entries), nil

	case KindConfig:
		path := filepath.Join(tmp, "config.yaml")
		if _, err := restore(&FileTarget{PartKind: KindConfig, Path: path}); err != nil {
			return "", err
		}
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		if err := checkConfig(f); err != nil {
			return "", err
		}
		return "configuration restored and parsed", nil

	case KindRedisRDB:
		rdb := filepath.Join(tmp, "dump.rdb")
		if _, err := restore(&FileTarget{PartKind: KindRedisRDB, Path: rdb}); err != nil {
			return "", err
		}
		srv, err := startScratchRedis(ctx, tmp, opts)
		if err != nil {
			return "", err
		}
		defer srv.stop()
		c, err := srv.redisConn().client()
		if err != nil {
			return "", err
		}
		defer c.Close()
		info, err := c.Info(ctx, "keyspace").Result()
		if err != nil {
			return "", fmt.Errorf("%w: %v", errScratch, err)
		}
		return fmt.Sprintf("redis-server loaded the RDB: %d keys", keyspaceKeys(info)), nil

	case KindRedisKeys:
		srv, err := startScratchRedis(ctx, tmp, opts)
		if err != nil {
			return "", err
		}
		defer srv.stop()
		res, err := restore(&RedisKeysTarget{Conn: srv.redisConn()})
		if err != nil {
			return "", err
		}
		if res.Entries+res.Skipped != p.Entries {
			return "", fmt.Errorf("%w: restored %d keys, the manifest says %d", ErrCorrupt, res.Entries, p.Entries)
		}
		c, err := srv.redisConn().client()
		if err != nil {
			return "", err
		}
		defer c.Close()
		n, err := c.DBSize(ctx).Result()
		if err != nil {
			return "", fmt.Errorf("%w: %v", errScratch, err)
		}
		// Keys with a TTL may expire between RESTORE and DBSIZE; more keys
		// than restored cannot appear.
		if n > res.Entries {
			return "", fmt.Errorf("%w: %d keys after restoring %d", ErrCorrupt, n, res.Entries)
		}
		return res.Note + " restored", nil

	case KindPostgres:
		srv, err := startScratchPostgres(ctx, tmp, opts)
		if err != nil {
			return "", err
		}
		defer srv.stop()
		t := &PostgresTarget{Conn: srv.pgConn(), NoOwner: true, PgRestore: srv.tool("pg_restore"), Psql: srv.tool("psql")}
		if err := t.Prepare(ctx); err != nil {
			return "", fmt.Errorf("%w: %v", errScratch, err)
		}
		var res Restored
		err = readPart(ctx, setDir, p, keys, true, nil, func(r io.Reader) error {
			if p.Format == FormatPgSQL {
				// The roles of the original server do not exist here: skip
				// ownership and privileges, as --no-owner would.
				r = &ownerFilter{r: bufio.NewReaderSize(r, 256<<10)}
			}
			var err error
			res, err = t.Restore(ctx, r, p)
			return err
		})
		if err != nil {
			return "", err
		}
		if res.Entries != p.Entries {
			return "", fmt.Errorf("%w: restored %d tables, the manifest says %d", ErrCorrupt, res.Entries, p.Entries)
		}
		return fmt.Sprintf("%d tables restored into PostgreSQL %s", res.Entries, srv.version), nil
	}
	return "", fmt.Errorf("%w: unknown kind %q", ErrManifest, p.Kind)
}

// keyspaceKeys sums the keys=N fields of INFO keyspace.
func keyspaceKeys(info string) int64 {
	var total int64
	for _, line := range strings.Split(info, "\n") {
		_, rest, ok := strings.Cut(strings.TrimSpace(line), ":keys=")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.SplitN(rest, ",", 2)[0], 10, 64)
		total += n
	}
	return total
}

// ownerFilter drops the lines of a plain SQL dump that set owners and
// privileges: "ALTER ... OWNER TO ...;", "GRANT ...;" and "REVOKE ...;".
type ownerFilter struct {
	r   *bufio.Reader
	buf []byte
	err error
}

func (f *ownerFilter) Read(p []byte) (int, error) {
	for len(f.buf) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		line, err := f.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long line (COPY data) is never an ownership statement.
			f.buf = append(f.buf[:0], line...)
			break
		}
		f.err = err
		if skipOwnerLine(line) {
			continue
		}
		f.buf = append(f.buf[:0], line...)
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	return n, nil
}

func skipOwnerLine(line []byte) bool {
	s := bytes.TrimSpace(line)
	if !bytes.HasSuffix(s, []byte(";")) {
		return false
	}
	return (bytes.HasPrefix(s, []byte("ALTER ")) && bytes.Contains(s, []byte(" OWNER TO "))) ||
		bytes.HasPrefix(s, []byte("GRANT ")) || bytes.HasPrefix(s, []byte("REVOKE "))
}

// scratchServer is a server process started for a deep verification.
type scratchServer struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	log     *tailBuffer
	stopSig syscall.Signal
	dir     string
	binDir  string
	version string
}

// startScratch starts cmd and waits until it prints ready on stdout or
// stderr. A server that exits first — redis-server refusing a corrupt RDB —
// gives an error with the end of its log.
func startScratch(ctx context.Context, name string, cmd *exec.Cmd, ready string, opts ScratchOptions) (*scratchServer, error) {
	s := &scratchServer{cmd: cmd, exited: make(chan struct{}), log: &tailBuffer{max: 2048}, stopSig: syscall.SIGTERM}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start %s: %v", errScratch, name, err)
	}
	readyCh := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := false
		for sc.Scan() {
			line := sc.Text()
			_, _ = s.log.Write([]byte(line + "\n"))
			if !once && strings.Contains(strings.ToLower(line), ready) {
				once = true
				close(readyCh)
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(s.exited)
	}()
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-readyCh:
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("%s exited while starting: %s", name, s.log.String())
	case <-timer.C:
		s.stop()
		return nil, fmt.Errorf("%w: %s not ready after %s: %s", errScratch, name, timeout, s.log.String())
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
}

// stop stops the server and waits for it.
func (s *scratchServer) stop() {
	_ = s.cmd.Process.Signal(s.stopSig)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *scratchServer) tool(name string) string { return filepath.Join(s.binDir, name) }

// startScratchRedis starts redis-server in dir, on a Unix socket only,
// loading dir/dump.rdb if there is one.
func startScratchRedis(ctx context.Context, dir string, opts ScratchOptions) (*scratchServer, error) {
	bin := opts.RedisServer
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("redis-server"); err != nil {
			if !isExecutable("/usr/bin/redis-server") {
				return nil, fmt.Errorf("%w: redis-server, which deep verification of Redis parts runs: install it (apt-get install redis-server)", ErrToolMissing)
			}
			bin = "/usr/bin/redis-server"
		}
	}
	cmd := exec.Command(bin,
		"--port", "0",
		"--unixsocket", filepath.Join(dir, "redis.sock"),
		"--unixsocketperm", "700",
		"--dir", dir,
		"--dbfilename", "dump.rdb",
		"--save", "",
		"--appendonly", "no",
		"--logfile", "",
		"--daemonize", "no",
	)
	cmd.Dir = dir
	cmd.SysProcAttr = childAttr()
	// "Ready to accept connections" (TCP) or "ready to accept connections
	// at PATH" (Unix socket only), depending on the version.
	s, err := startScratch(ctx, "redis-server", cmd, "ready to accept connections", opts)
	if err != nil {
		if !errors.Is(err, errScratch) && !errors.Is(err, context.Canceled) {
			// It ran and refused: that is the RDB's fault.
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return nil, err
	}
	s.dir = dir
	return s, nil
}

func (s *scratchServer) redisConn() RedisConn {
	return RedisConn{Server: redisconn.Endpoint{Network: "unix", Addrs: []string{filepath.Join(s.dir, "redis.sock")}}}
}

// startScratchPostgres initialises and starts a PostgreSQL in dir/pg,
// listening on a Unix socket only. PostgreSQL refuses to run as root; as
// root it runs as the "postgres" user that Debian's packages create.
func startScratchPostgres(ctx context.Context, dir string, opts ScratchOptions) (*scratchServer, error) {
	binDir := opts.PgBinDir
	if binDir == "" {
		if p := newestPgTool("postgres"); p != "" {
			binDir = filepath.Dir(p)
		} else if p, err := exec.LookPath("initdb"); err == nil {
			binDir = filepath.Dir(p)
		}
	}
	if !isExecutable(filepath.Join(binDir, "initdb")) || !isExecutable(filepath.Join(binDir, "postgres")) {
		return nil, fmt.Errorf("%w: initdb and postgres, which deep verification of PostgreSQL parts runs, are not in %s/*/bin or on PATH: install the server (apt-get install postgresql-15)", ErrToolMissing, pgDebianBin)
	}
	var cred *syscall.Credential
	pgDir := filepath.Join(dir, "pg")
	if err := os.Mkdir(pgDir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %v", errScratch, err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("%w: PostgreSQL will not run as root, and there is no \"postgres\" user to run the scratch server as: %v", errScratch, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// The scratch directory must be reachable by that user.
		for _, d := range []string{dir, pgDir} {
			if err := os.Chown(d, uid, gid); err != nil {
				return nil, fmt.Errorf("%w: %v", errScratch, err)
			}
		}
		if err := os.Chmod(dir, 0o711); err != nil {
			return nil, fmt.Errorf("%w: %v", errScratch, err)
		}
	}
	attr := childAttr()
	attr.Credential = cred
	data := filepath.Join(pgDir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), "-D", data, "--username=postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.Dir = pgDir
	initdb.Env = append(os.Environ(), "LC_ALL=C")
	initdb.SysProcAttr = attr
	if out, err := initdb.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: initdb: %v: %s", errScratch, err, lastLines(out, 5))
	}
	cmd := exec.Command(filepath.Join(binDir, "postgres"), "-D", data,
		"-k", pgDir, "-c", "listen_addresses=", "-p", "5432",
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
		"-c", "max_wal_size=1GB")
	cmd.Dir = pgDir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = attr
	s, err := startScratch(ctx, "postgres", cmd, "database system is ready to accept connections", opts)
	if err != nil {
		if !errors.Is(err, errScratch) && !errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%w: %v", errScratch, err)
		}
		return nil, err
	}
	s.stopSig = syscall.SIGINT // fast shutdown
	s.dir, s.binDir = pgDir, binDir
	if out, err := exec.Command(filepath.Join(binDir, "postgres"), "--version").Output(); err == nil {
		if f := strings.Fields(string(out)); len(f) >= 3 {
			s.version = f[2]
		}
	}
	return s, nil
}

func (s *scratchServer) pgConn() PostgresConn {
	q := url.Values{"host": {s.dir}, "port": {"5432"}, "sslmode": {"disable"}}
	return PostgresConn{URL: "postgres://postgres@/postgres?" + q.Encode()}
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}
