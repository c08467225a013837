package keys

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/keys"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/services/orchestrator"
	"github.com/tars-ops/tarsctl/internal/supervisor"
)

// liveKeyring brings the orchestrator along during an AES rotation of the
// data it serves: at each phase it writes the keyring state file
// (DATA_DIR/aes-keyring.json) and, when the orchestrator runs, sends it
// SIGHUP and waits until its /metrics show the new keyring.
type liveKeyring struct {
	cfg            *config.Config
	dataDir        string // the daemons' paths.data_dir
	oldRef, newRef keys.KeyRef
	timeout        time.Duration
	client         *http.Client
	status         func(format string, args ...any)
}

// pid returns the orchestrator's pid from its supervisor pidfile, or 0
// when it does not run.
func (l *liveKeyring) pid(ctx context.Context) (int, error) {
	sup := supervisor.New(supervisor.CatalogOptions(l.cfg))
	st, err := sup.Status(ctx, orchestrator.Service)
	if err != nil {
		return 0, err
	}
	if st.State != "running" {
		return 0, nil
	}
	return st.PID, nil
}

// phaseState is the keyring the daemons must hold from phase p on, or nil
// when p changes nothing.
func (l *liveKeyring) phaseState(p keys.Phase) *keys.KeyringState {
	switch p {
	case keys.PhaseExpand: // both open, the old key still seals
		return &keys.KeyringState{Primary: l.oldRef, DecryptOnly: []keys.KeyRef{l.newRef}, Phase: p}
	case keys.PhaseSwitch: // the new key seals
		return &keys.KeyringState{Primary: l.newRef, DecryptOnly: []keys.KeyRef{l.oldRef}, Phase: p}
	case keys.PhaseContract: // the old key leaves
		return &keys.KeyringState{Primary: l.newRef, Phase: p}
	}
	return nil
}

// before is keys.RotateOptions.BeforePhase.
func (l *liveKeyring) before(ctx context.Context, p keys.Phase) error {
	want := l.phaseState(p)
	if want == nil {
		return nil
	}
	cur, err := keys.ReadKeyringState(l.dataDir)
	if err != nil {
		return err
	}
	// Never hand sealing back to the old key: a resumed or repeated
	// rotation whose switch already happened skips expand.
	if p == keys.PhaseExpand && cur != nil && cur.Primary.KeyID == l.newRef.KeyID {
		return nil
	}
	pid, err := l.pid(ctx)
	if err != nil {
		return err
	}
	var failures float64
	if pid != 0 {
		m, err := l.metrics(ctx)
		if err != nil {
			return err
		}
		if p == keys.PhaseExpand && !m.has(l.oldRef.KeyID) && !m.has(l.newRef.KeyID) {
			return cmdutil.Failed(cmdutil.WithHint(
				fmt.Errorf("the running orchestrator (pid %d) does not hold the old key %s (it holds %s); nothing was modified", pid, l.oldRef.KeyID, m.describe()),
				"check --old-key against encryption.key_file of the configuration the daemon was started with"))
		}
		failures = m.failures
	}
	want.UpdatedAt = time.Now().UTC()
	if err := keys.WriteKeyringState(l.dataDir, want); err != nil {
		return err
	}
	if pid == 0 {
		l.status("%s: keyring state written to %s (the orchestrator is not running)", p, keys.KeyringPath(l.dataDir))
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("signal the orchestrator (pid %d): %w", pid, err)
	}
	if err := l.waitFor(ctx, want, failures); err != nil {
		return err
	}
	l.status("%s: the orchestrator (pid %d) reloaded its keyring: %s", p, pid, describeState(want))
	return nil
}

// waitFor polls the orchestrator's /metrics until it holds exactly the
// keys of want, a reload failure is counted, or the timeout passes.
func (l *liveKeyring) waitFor(ctx context.Context, want *keys.KeyringState, failures float64) error {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		m, err := l.metrics(ctx)
		if err == nil {
			if m.failures > failures {
				return cmdutil.Failed(cmdutil.WithHint(
					errors.New("the orchestrator could not reload its keyring and still runs with the previous one"),
					"its log says why (grep 'Reload failed' in LOG_DIR/multi-agent.log); fix it and run the same command again to resume"))
			}
			if m.matches(want, l.cfg.Encryption.Enabled) {
				return nil
			}
			last = m.describe()
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return cmdutil.Timeout(cmdutil.WithHint(
					fmt.Errorf("the orchestrator did not confirm its new keyring within %s (it holds %s)", l.timeout, last),
					"see its log; run the same command again to resume"))
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// daemonKeys is what the orchestrator's /metrics say about its keyring.
type daemonKeys struct {
	roles    map[string]string // key id → role
	failures float64
}

var (
	keyLine     = regexp.MustCompile(`^tars_orchestrator_aes_key\{key_id="([0-9a-f]+)",role="([a-z-]+)"\} 1$`)
	failureLine = regexp.MustCompile(`^tars_reloads_total\{result="failure"\} (\S+)$`)
)

func (l *liveKeyring) metrics(ctx context.Context) (*daemonKeys, error) {
	sp, _ := services.Lookup(orchestrator.Service)
	url := sp.URL(l.cfg) + "/metrics"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("orchestrator metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("orchestrator metrics: %s answered %s", url, resp.Status)
	}
	m := &daemonKeys{roles: map[string]string{}}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if k := keyLine.FindStringSubmatch(line); k != nil {
			m.roles[k[1]] = k[2]
		} else if f := failureLine.FindStringSubmatch(line); f != nil {
			m.failures, _ = strconv.ParseFloat(f[1], 64)
		}
	}
	return m, sc.Err()
}

func (m *daemonKeys) has(id string) bool { _, ok := m.roles[id]; return ok }

func (m *daemonKeys) matches(want *keys.KeyringState, enabled bool) bool {
	exp := map[string]string{want.Primary.KeyID: keys.RolePrimary}
	if !enabled {
		exp[want.Primary.KeyID] = keys.RoleDecryptOnly
	}
	for _, r := range want.DecryptOnly {
		exp[r.KeyID] = keys.RoleDecryptOnly
	}
	if len(exp) != len(m.roles) {
		return false
	}
	for id, role := range exp {
		if m.roles[id] != role {
			return false
		}
	}
	return true
}

func (m *daemonKeys) describe() string {
	if len(m.roles) == 0 {
		return "no AES key"
	}
	var parts []string
	for id, role := range m.roles {
		parts = append(parts, id+" ("+role+")")
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

func describeState(s *keys.KeyringState) string {
	out := s.Primary.KeyID + " seals"
	for _, r := range s.DecryptOnly {
		out += ", " + r.KeyID + " decrypt-only"
	}
	return out
}

// newLiveKeyring prepares the daemons' side of a rotation of dataDir, or
// returns nil when the daemons do not serve dataDir (it does not hold the
// orchestrator's checkpoint directory).
func newLiveKeyring(cfg *config.Config, dataDir, oldPath, newPath string, oldKey, newKey []byte, timeout time.Duration) (*liveKeyring, error) {
	daemonsDir := cfg.Paths.DataDirPath()
	if !within(orchestrator.CheckpointDir(cfg), dataDir) {
		return nil, nil
	}
	ref := func(path string, key []byte) (keys.KeyRef, error) {
		abs, err := filepath.Abs(path)
		return keys.KeyRef{KeyFile: abs, KeyID: crypto.KeyID(key)}, err
	}
	l := &liveKeyring{cfg: cfg, dataDir: daemonsDir, timeout: timeout}
	var err error
	if l.oldRef, err = ref(oldPath, oldKey); err != nil {
		return nil, err
	}
	if l.newRef, err = ref(newPath, newKey); err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.API.TLS.CertFile != "" {
		// The daemon's certificate may be self-signed: trust it too.
		pool, _ := x509.SystemCertPool()
		if pool == nil {
			pool = x509.NewCertPool()
		}
		if pem, err := os.ReadFile(cfg.API.TLS.CertFile); err == nil {
			pool.AppendCertsFromPEM(pem)
		}
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	}
	l.client = &http.Client{Timeout: 5 * time.Second, Transport: tr}
	return l, nil
}

// within reports whether path is dir or under it.
func within(path, dir string) bool {
	a, err1 := filepath.Abs(path)
	b, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(b, a)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
