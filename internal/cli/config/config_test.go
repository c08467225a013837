package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	cfg "github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/testenv/golden"
)

func testFactory(ios *iostreams.IOStreams, output string) *cmdutil.Factory {
	return &cmdutil.Factory{
		IOStreams: ios,
		Globals:   &cmdutil.GlobalFlags{Output: output},
		Getenv:    func(string) string { return "" },
	}
}

func TestNewCmdValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantFile string
		wantErr  string
	}{
		{name: "no file", args: nil},
		{name: "file", args: []string{"tars.yaml"}, wantFile: "tars.yaml"},
		{name: "two files", args: []string{"a.yaml", "b.yaml"}, wantErr: "takes at most 1 argument(s), got 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			var got *ValidateOptions
			cmd := NewCmdValidate(testFactory(ios, "text"), func(o *ValidateOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(ios.Out)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if tt.wantErr != "" {
				var flagErr *cmdutil.FlagError
				if !errors.As(err, &flagErr) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want usage error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.File != tt.wantFile {
				t.Errorf("File = %q, want %q", got.File, tt.wantFile)
			}
		})
	}
}

func TestProfilesRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tty    bool
		output string
	}{
		{"text", false, "text"},
		{"tty", true, "text"},
		{"json", false, "json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ios, _, out, errOut := iostreams.Test()
			ios.SetStdoutTTY(tc.tty)
			ios.SetTerminalWidth(120)
			if err := profilesRun(&ProfilesOptions{IO: ios, Output: tc.output}); err != nil {
				t.Fatal(err)
			}
			if errOut.Len() != 0 {
				t.Errorf("stderr = %q", errOut.String())
			}
			golden.Assert(t, out.Bytes())
		})
	}
}

func TestShowRunYAMLRoundTrips(t *testing.T) {
	t.Parallel()
	// The YAML that show prints is a valid config file for the same profile.
	res, err := cfg.Load(cfg.LoadOptions{Profile: "docker", Getenv: func(string) string { return "" }, ReadFile: noFiles})
	if err != nil {
		t.Fatal(err)
	}
	ios, _, out, _ := iostreams.Test()
	err = showRun(&ShowOptions{IO: ios, Output: "yaml", Config: func() (*cfg.Result, error) { return res, nil }})
	if err != nil {
		t.Fatal(err)
	}
	again, err := cfg.Load(cfg.LoadOptions{
		Profile:    "local",
		ConfigFile: "shown.yaml",
		Getenv:     func(string) string { return "" },
		ReadFile:   func(string) ([]byte, error) { return out.Bytes(), nil },
	})
	if err != nil {
		t.Fatalf("shown YAML does not load: %v\n%s", err, out.String())
	}
	if again.Config.RateLimiting != res.Config.RateLimiting || again.Config.Database.Host != res.Config.Database.Host {
		t.Errorf("round trip changed values:\n%s", out.String())
	}
}

func TestShowRunFailsOnProblemsButShows(t *testing.T) {
	t.Parallel()
	res, loadErr := cfg.Load(cfg.LoadOptions{Profile: "production", Getenv: func(string) string { return "" }, ReadFile: noFiles})
	if loadErr == nil {
		t.Fatal("production without REDIS_PASSWORD should have a problem")
	}
	ios, _, out, _ := iostreams.Test()
	err := showRun(&ShowOptions{IO: ios, Output: "text", Config: func() (*cfg.Result, error) { return res, loadErr }})
	var verr *cfg.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v, want the validation error", err)
	}
	if !strings.Contains(out.String(), "rate_limiting.requests_per_minute\t30\tprofile production") {
		t.Errorf("configuration not shown:\n%s", out.String())
	}
}

func noFiles(string) ([]byte, error) { return nil, errors.New("no files in this test") }
