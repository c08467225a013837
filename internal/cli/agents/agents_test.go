package agents

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/services/hypersync"
	"github.com/tars-ops/tarsctl/internal/services/orchestrator"
	"github.com/tars-ops/tarsctl/internal/testenv"
	"github.com/tars-ops/tarsctl/pkg/client"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const testSecret = "agents-cli-test-secret-0123456789abcdef"

func getenv(k string) string {
	if k == "TARS_JWT_SECRET" {
		return testSecret
	}
	return ""
}

// stack is an orchestrator and a hypersync running in this process on
// 127.0.0.1, with auth and RBAC on; cfg points at them.
type stack struct {
	cfg *config.Config
}

func startStack(t *testing.T, withHyperSync bool) *stack {
	t.Helper()
	res, err := config.Load(config.LoadOptions{Profile: "local", Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := res.Config
	cfg.Paths.Home = t.TempDir()
	cfg.Auth.Enabled, cfg.Auth.RBAC = true, true
	orchLn := listen(t)
	cfg.Services.OrchestrationAgent.URL = "http://" + orchLn.Addr().String()
	run(t, func(ctx context.Context, onReady func(net.Addr)) error {
		return orchestrator.Run(ctx, orchestrator.RunOptions{Config: cfg, Getenv: getenv, Listener: orchLn, OnReady: onReady})
	})
	if withHyperSync {
		hsLn := listen(t)
		cfg.Services.HyperSync.URL = "http://" + hsLn.Addr().String()
		run(t, func(ctx context.Context, onReady func(net.Addr)) error {
			return hypersync.Run(ctx, hypersync.RunOptions{Config: cfg, Getenv: getenv, Listener: hsLn, OnReady: onReady})
		})
	}
	return &stack{cfg: cfg}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// run starts a daemon and waits until it is ready; it stops when the test
// ends.
func run(t *testing.T, daemon func(ctx context.Context, onReady func(net.Addr)) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- daemon(ctx, func(net.Addr) { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("daemon stopped: %v", err)
	}
	t.Cleanup(func() { cancel(); <-done })
}

func (s *stack) connect(service, role string) (*client.Client, error) {
	return NewClient(s.cfg, getenv, service, role)
}

func (s *stack) orchestrator(role string) func() (Orchestrator, error) {
	return func() (Orchestrator, error) { return s.connect(services.OrchestrationAgent, role) }
}

func TestTrainListSetRun(t *testing.T) {
	t.Parallel()
	s := startStack(t, true)
	ctx := context.Background()

	ios, _, out, errOut := iostreams.Test()
	seed := uint64(7)
	err := trainRun(ctx, &TrainOptions{IO: ios, Orchestrator: s.orchestrator("operator"), AgentID: "cart-1", Episodes: 30, Seed: &seed, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^✓ Created and trained agent cart-1: 30 episodes in [0-9.]+ms\n$`).MatchString(errOut.String()) {
		t.Errorf("stderr %q", errOut)
	}
	if !regexp.MustCompile(`^agent\tcart-1\nepisodes\t30 \(30 in total\)\nmean reward\t[0-9.]+\n(.*\n){3}seed\t7\nduration\t[0-9.]+ms\n$`).MatchString(out.String()) {
		t.Errorf("stdout %q", out)
	}

	ios, _, out, _ = iostreams.Test()
	lr := 0.25
	err = trainRun(ctx, &TrainOptions{IO: ios, Orchestrator: s.orchestrator("operator"), AgentID: "cart-1", Episodes: 5, Output: "json",
		Update: &client.HyperparameterUpdate{LearningRate: &lr}})
	var res client.TrainResult
	if err != nil || json.Unmarshal(out.Bytes(), &res) != nil || res.Created || res.Agent.Episodes != 35 || res.Agent.Hyperparameters.LearningRate != 0.25 {
		t.Errorf("second run: %v %s", err, out)
	}

	ios, _, out, _ = iostreams.Test()
	if err := listRun(ctx, &ListOptions{IO: ios, Orchestrator: s.orchestrator("viewer"), Output: "text"}); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^cart-1\tidle\t35\t[0-9.]+\t[0-9.]+\t[0-9.]+\t0\.25\t20[0-9-]+T[0-9:]+Z\n$`).MatchString(out.String()) {
		t.Errorf("list: %q", out)
	}
	ios, _, out, _ = iostreams.Test()
	if err := listRun(ctx, &ListOptions{IO: ios, Orchestrator: s.orchestrator("viewer"), Output: "json"}); err != nil {
		t.Fatal(err)
	}
	var agents []client.Agent
	if json.Unmarshal(out.Bytes(), &agents) != nil || len(agents) != 1 || agents[0].ID != "cart-1" {
		t.Errorf("list -o json: %s", out)
	}

	ios, _, out, errOut = iostreams.Test()
	d := 0.9
	if err := setRun(ctx, &SetOptions{IO: ios, Orchestrator: s.orchestrator("operator"), AgentID: "cart-1",
		Update: client.HyperparameterUpdate{Discount: &d}}); err != nil {
		t.Fatal(err)
	}
	if errOut.String() != "✓ Updated the hyperparameters of agent cart-1\n" ||
		out.String() != "learning_rate\t0.25\ndiscount\t0.9\nepsilon\t1\nepsilon_decay\t0.95\nepsilon_min\t0\n" {
		t.Errorf("set: stdout %q stderr %q", out, errOut)
	}

	ios, _, _, errOut = iostreams.Test()
	eps := 0.2
	err = setRun(ctx, &SetOptions{IO: ios, AgentID: "cart-1", ViaHyperSync: true, Wait: 10 * time.Second,
		HyperSync: func() (HyperSync, error) { return s.connect(services.HyperSync, "operator") },
		Update:    client.HyperparameterUpdate{Epsilon: &eps}})
	if err != nil || !regexp.MustCompile(`^✓ HyperSync applied sync-[0-9a-f]+ to agent cart-1 in [0-9.]+ms\n$`).MatchString(errOut.String()) {
		t.Errorf("set --via-hypersync: %v %q", err, errOut)
	}
	c, _ := s.connect(services.OrchestrationAgent, "viewer")
	if a, err := c.GetAgent(ctx, "cart-1"); err != nil || a.Hyperparameters.Epsilon != 0.2 {
		t.Errorf("after the sync: %+v %v", a.Hyperparameters, err)
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	s := startStack(t, false)
	ctx := context.Background()
	ios, _, _, _ := iostreams.Test()

	// A viewer's token may list but not train.
	err := trainRun(ctx, &TrainOptions{IO: ios, Orchestrator: s.orchestrator("viewer"), AgentID: "a", Episodes: 1})
	if code := cmdutil.ExitCode(err); code != cmdutil.ExitPermission || !strings.Contains(strings.Join(cmdutil.Hints(err), " "), "operator") {
		t.Errorf("viewer training: exit %d, %v", code, err)
	}
	d := 0.5
	err = setRun(ctx, &SetOptions{IO: ios, Orchestrator: s.orchestrator("operator"), AgentID: "ghost", Update: client.HyperparameterUpdate{Discount: &d}})
	if code := cmdutil.ExitCode(err); code != cmdutil.ExitFailure || !errors.Is(err, client.ErrNotFound) || len(cmdutil.Hints(err)) == 0 {
		t.Errorf("set of a missing agent: exit %d, %v", code, err)
	}

	// A token signed with another secret is refused.
	bad := func() (Orchestrator, error) {
		return NewClient(s.cfg, func(k string) string {
			if k == "TARS_JWT_SECRET" {
				return strings.Repeat("x", 40)
			}
			return ""
		}, services.OrchestrationAgent, "viewer")
	}
	if code := cmdutil.ExitCode(listRun(ctx, &ListOptions{IO: ios, Orchestrator: bad})); code != cmdutil.ExitPermission {
		t.Errorf("wrong secret: exit %d", code)
	}
	// TARS_TOKEN wins over signing.
	tokenEnv := func(k string) string {
		if k == "TARS_TOKEN" {
			return "not-a-jwt"
		}
		return getenv(k)
	}
	withEnvToken := func() (Orchestrator, error) { return NewClient(s.cfg, tokenEnv, services.OrchestrationAgent, "viewer") }
	if code := cmdutil.ExitCode(listRun(ctx, &ListOptions{IO: ios, Orchestrator: withEnvToken})); code != cmdutil.ExitPermission {
		t.Errorf("TARS_TOKEN garbage: exit %d", code)
	}

	// A daemon that is not running: exit 3 with a hint to start it.
	down := *s.cfg
	ln := listen(t)
	down.Services.OrchestrationAgent.URL = "http://" + ln.Addr().String()
	ln.Close()
	err = listRun(ctx, &ListOptions{IO: ios, Orchestrator: func() (Orchestrator, error) {
		return NewClient(&down, getenv, services.OrchestrationAgent, "viewer")
	}})
	if code := cmdutil.ExitCode(err); code != cmdutil.ExitUnreachable || !slicesContains(cmdutil.Hints(err), "tarsctl start orchestration-agent") {
		t.Errorf("orchestrator down: exit %d, %v %v", code, err, cmdutil.Hints(err))
	}
	// HyperSync down: the same for it.
	err = setRun(ctx, &SetOptions{IO: ios, AgentID: "a", ViaHyperSync: true, Update: client.HyperparameterUpdate{Discount: &d},
		HyperSync: func() (HyperSync, error) { return NewClient(&down, getenv, services.HyperSync, "operator") }})
	if code := cmdutil.ExitCode(err); code != cmdutil.ExitUnreachable {
		t.Errorf("hypersync down: exit %d, %v", code, err)
	}
}

// exitCode is the code internal/app exits with for err (which this package
// cannot import: app imports the command tree).

func slicesContains(hints []string, sub string) bool {
	for _, h := range hints {
		if strings.Contains(h, sub) {
			return true
		}
	}
	return false
}

func TestNewCmdFlags(t *testing.T) {
	t.Parallel()
	f64 := func(v float64) *float64 { return &v }
	tests := []struct {
		name    string
		cmd     func(*cmdutil.Factory, *any) *cobra.Command
		args    []string
		want    any
		wantErr string
	}{
		{
			name: "train defaults",
			cmd:  trainCmd, args: []string{"cart-1"},
			want: TrainOptions{AgentID: "cart-1", Episodes: 50, Timeout: 5 * time.Minute, Output: "text"},
		},
		{
			name: "train with seed and hyperparameters",
			cmd:  trainCmd, args: []string{"cart-1", "-n", "200", "--seed", "0", "--learning-rate", "0.3"},
			want: TrainOptions{AgentID: "cart-1", Episodes: 200, Seed: new(uint64), Timeout: 5 * time.Minute, Output: "text",
				Update: &client.HyperparameterUpdate{LearningRate: f64(0.3)}},
		},
		{name: "train too many episodes", cmd: trainCmd, args: []string{"a", "--episodes", "10001"}, wantErr: "--episodes must be from 1 to 10000"},
		{name: "train zero episodes", cmd: trainCmd, args: []string{"a", "--episodes", "0"}, wantErr: "--episodes must be from 1 to 10000"},
		{name: "train bad id", cmd: trainCmd, args: []string{"../a"}, wantErr: `invalid agent id "../a"`},
		{name: "train no id", cmd: trainCmd, args: nil, wantErr: "needs an AGENT id"},
		{
			name: "set two values",
			cmd:  setCmd, args: []string{"cart-1", "--discount", "0.9", "--epsilon-min", "0.05"},
			want: SetOptions{AgentID: "cart-1", Wait: 10 * time.Second, Timeout: 10 * time.Second, Output: "text",
				Update: client.HyperparameterUpdate{Discount: f64(0.9), EpsilonMin: f64(0.05)}},
		},
		{
			name: "set via hypersync",
			cmd:  setCmd, args: []string{"cart-1", "--epsilon", "0", "--via-hypersync", "--wait", "0s"},
			want: SetOptions{AgentID: "cart-1", ViaHyperSync: true, Timeout: 10 * time.Second, Output: "text",
				Update: client.HyperparameterUpdate{Epsilon: f64(0)}},
		},
		{name: "set nothing", cmd: setCmd, args: []string{"cart-1"}, wantErr: "give at least one of"},
		{name: "set out of range", cmd: setCmd, args: []string{"cart-1", "--learning-rate", "1.5"}, wantErr: "--learning-rate 1.5 is out of range"},
		{name: "set floor above start", cmd: setCmd, args: []string{"cart-1", "--epsilon", "0.1", "--epsilon-min", "0.2"}, wantErr: "--epsilon-min 0.2 is out of range"},
		{name: "set wait without hypersync", cmd: setCmd, args: []string{"cart-1", "--discount", "1", "--wait", "1s"}, wantErr: "--wait needs --via-hypersync"},
		{name: "list takes no args", cmd: listCmd, args: []string{"x"}, wantErr: "takes no arguments"},
		{name: "list", cmd: listCmd, args: nil, want: ListOptions{Timeout: 10 * time.Second, Output: "text"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{Output: "text"}}
			var got any
			c := tt.cmd(f, &got)
			c.SetArgs(tt.args)
			c.SetOut(ios.Out)
			c.SetErr(ios.ErrOut)
			err := c.Execute()
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want a usage error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tt.want, got) {
				t.Errorf("options:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// The capturing runFs keep the flag values and drop the dependencies.
func trainCmd(f *cmdutil.Factory, got *any) *cobra.Command {
	return NewCmdTrain(f, nil, func(_ context.Context, o *TrainOptions) error {
		c := *o
		c.IO, c.Orchestrator = nil, nil
		*got = c
		return nil
	})
}

func setCmd(f *cmdutil.Factory, got *any) *cobra.Command {
	return NewCmdSet(f, nil, func(_ context.Context, o *SetOptions) error {
		c := *o
		c.IO, c.Orchestrator, c.HyperSync = nil, nil, nil
		*got = c
		return nil
	})
}

func listCmd(f *cmdutil.Factory, got *any) *cobra.Command {
	return NewCmdList(f, nil, func(_ context.Context, o *ListOptions) error {
		c := *o
		c.IO, c.Orchestrator, c.Now = nil, nil, nil
		*got = c
		return nil
	})
}
