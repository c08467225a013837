package keys

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/keys"
)

// waitFor reads the daemon's keyring from its /metrics text, and stops at
// a counted reload failure instead of waiting out the timeout.
func TestLiveKeyringWaitFor(t *testing.T) {
	t.Parallel()
	var body atomic.Value
	body.Store("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, body.Load().(string))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	cfg := &config.Config{}
	cfg.API.Host = "127.0.0.1"
	cfg.Encryption.Enabled = true
	cfg.Services.OrchestrationAgent.Port, _ = strconv.Atoi(port)
	l := &liveKeyring{cfg: cfg, timeout: time.Minute, client: srv.Client()}
	want := &keys.KeyringState{Primary: keys.KeyRef{KeyID: "aaaa"}, DecryptOnly: []keys.KeyRef{{KeyID: "bbbb"}}}

	body.Store("tars_reloads_total{result=\"failure\"} 0\n" +
		"tars_orchestrator_aes_key{key_id=\"aaaa\",role=\"primary\"} 1\n" +
		"tars_orchestrator_aes_key{key_id=\"bbbb\",role=\"decrypt-only\"} 1\n")
	if err := l.waitFor(context.Background(), want, 0); err != nil {
		t.Fatalf("matching keyring: %v", err)
	}
	body.Store("tars_reloads_total{result=\"failure\"} 1\n" +
		"tars_orchestrator_aes_key{key_id=\"aaaa\",role=\"primary\"} 1\n")
	err := l.waitFor(context.Background(), want, 0)
	if err == nil || cmdutil.ExitCode(err) != 1 {
		t.Fatalf("failed reload: %v", err)
	}
	l.timeout = 200 * time.Millisecond
	body.Store("tars_reloads_total{result=\"failure\"} 1\n" +
		"tars_orchestrator_aes_key{key_id=\"aaaa\",role=\"primary\"} 1\n")
	err = l.waitFor(context.Background(), want, 1)
	if err == nil || cmdutil.ExitCode(err) != 6 || errors.Is(err, context.Canceled) {
		t.Fatalf("no confirmation: %v (exit %d), want exit 6", err, cmdutil.ExitCode(err))
	}
}
