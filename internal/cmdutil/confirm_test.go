package cmdutil

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/iostreams"
)

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("input/output error") }

func TestConfirm(t *testing.T) {
	t.Parallel()
	const action, question = "deleting user alice", "Delete user alice (admin)?"
	tests := []struct {
		name     string
		tty      bool
		yes      bool
		stdin    string
		in       io.Reader // instead of stdin
		wantCode int       // -1: no error
		wantErr  string
		wantAsk  bool
	}{
		{name: "tty y", tty: true, stdin: "y\n", wantCode: -1, wantAsk: true},
		{name: "tty yes", tty: true, stdin: "yes\n", wantCode: -1, wantAsk: true},
		{name: "tty YES with spaces", tty: true, stdin: "  YES \r\n", wantCode: -1, wantAsk: true},
		{name: "tty y without newline", tty: true, stdin: "y", wantCode: -1, wantAsk: true},
		{name: "tty n", tty: true, stdin: "n\n", wantCode: ExitFailure, wantErr: "deleting user alice: not confirmed, nothing was changed", wantAsk: true},
		{name: "tty empty line", tty: true, stdin: "\n", wantCode: ExitFailure, wantErr: "not confirmed", wantAsk: true},
		{name: "tty yess", tty: true, stdin: "yess\n", wantCode: ExitFailure, wantErr: "not confirmed", wantAsk: true},
		{name: "tty EOF", tty: true, stdin: "", wantCode: ExitFailure, wantErr: "deleting user alice: no answer to the confirmation: EOF", wantAsk: true},
		{name: "tty read error", tty: true, in: failingReader{}, wantCode: ExitFailure, wantErr: "no answer to the confirmation: input/output error", wantAsk: true},
		{name: "tty --yes", tty: true, yes: true, stdin: "n\n", wantCode: -1},
		{name: "no tty", stdin: "y\n", wantCode: ExitUsage, wantErr: "deleting user alice needs --yes when not on a terminal"},
		{name: "no tty EOF", wantCode: ExitUsage, wantErr: "needs --yes"},
		{name: "no tty read error", in: failingReader{}, wantCode: ExitUsage, wantErr: "needs --yes"},
		{name: "no tty --yes", yes: true, wantCode: -1},
		{name: "no tty --yes read error", yes: true, in: failingReader{}, wantCode: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, stdin, _, stderr := iostreams.Test()
			stdin.WriteString(tt.stdin)
			if tt.in != nil {
				ios.In = tt.in
			}
			ios.SetStdinTTY(tt.tty)
			ios.SetStderrTTY(tt.tty)
			err := Confirm(ios, tt.yes, action, question)
			if tt.wantCode < 0 {
				if err != nil {
					t.Fatalf("err = %v, want go ahead", err)
				}
			} else {
				if err == nil || ExitCode(err) != tt.wantCode || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v (exit %d), want exit %d with %q", err, ExitCode(err), tt.wantCode, tt.wantErr)
				}
				if declined := errors.Is(err, ErrNotConfirmed); declined != (tt.wantCode == ExitFailure && strings.Contains(tt.wantErr, "not confirmed")) {
					t.Errorf("errors.Is(ErrNotConfirmed) = %v for %v: a read error is not a no", declined, err)
				}
			}
			if asked := strings.Contains(stderr.String(), question+" [y/N] "); asked != tt.wantAsk {
				t.Errorf("stderr %q: asked = %v, want %v", stderr.String(), asked, tt.wantAsk)
			}
		})
	}
}

func TestRequireConfirmation(t *testing.T) {
	t.Parallel()
	ios, _, _, _ := iostreams.Test()
	err := RequireConfirmation(ios, false, "removing 3 of 5 backups", "--dry-run prints the plan")
	var fe *FlagError
	if !errors.As(err, &fe) || ExitCode(err) != ExitUsage || err.Error() != "removing 3 of 5 backups needs --yes when not on a terminal" {
		t.Fatalf("err = %v", err)
	}
	if got := strings.Join(Hints(err), " | "); got != "pass --yes to confirm without a terminal | --dry-run prints the plan" {
		t.Errorf("hints %q", got)
	}
	if RequireConfirmation(ios, true, "x") != nil {
		t.Error("--yes needs no terminal")
	}
	ios.SetStdinTTY(true)
	if RequireConfirmation(ios, false, "x") == nil {
		t.Error("stderr is not a terminal: the question would not be seen")
	}
	ios.SetStderrTTY(true)
	if RequireConfirmation(ios, false, "x") != nil {
		t.Error("stdin and stderr on a terminal can prompt")
	}
	ios.SetNeverPrompt(true)
	if RequireConfirmation(ios, false, "x") == nil {
		t.Error("prompts turned off")
	}
}

// TestConfirmLeavesTheRestOfStdin: what follows the answer line (a
// password for --password-stdin) is not consumed.
func TestConfirmLeavesTheRestOfStdin(t *testing.T) {
	t.Parallel()
	ios, stdin, _, _ := iostreams.Test()
	ios.SetStdinTTY(true)
	ios.SetStderrTTY(true)
	stdin.WriteString("y\nsecret-password\n")
	if err := Confirm(ios, false, "rotating", "Rotate?"); err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(ios.In); string(rest) != "secret-password\n" {
		t.Errorf("left on stdin: %q", rest)
	}
}
