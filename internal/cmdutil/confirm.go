package cmdutil

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tars-ops/tarsctl/internal/iostreams"
)

// ErrNotConfirmed is what [Confirm] returns, wrapped with the action and
// exit code 1, when the user answers anything but yes.
var ErrNotConfirmed = errors.New("not confirmed, nothing was changed")

// noTerminalHint is the advice of the error a destructive command returns
// when it cannot ask.
const noTerminalHint = "pass --yes to confirm without a terminal"

// maxAnswer caps the answer line; a longer one is not a yes.
const maxAnswer = 1024

// RequireConfirmation is the check a destructive command makes in RunE,
// before it does anything: nil when yes (--yes) was given or ios can
// prompt; otherwise a usage error (exit 2) that names action ("rotating
// the Redis password") and hints at --yes, then at hints.
func RequireConfirmation(ios *iostreams.IOStreams, yes bool, action string, hints ...string) error {
	if yes || ios.CanPrompt() {
		return nil
	}
	return WithHint(FlagErrorf("%s needs --yes when not on a terminal", action), append([]string{noTerminalHint}, hints...)...)
}

// Confirm asks question on stderr, followed by " [y/N] ", and reads one
// line from stdin: "y" or "yes" in any case goes ahead (nil); anything else
// is an exit-1 error wrapping [ErrNotConfirmed]. With yes it does not ask;
// without a terminal it returns [RequireConfirmation]'s error, with hints
// after the one to pass --yes. Failing to
// read an answer (stdin closed, a read error) is an error, never a no.
//
// It reads stdin one byte at a time, so what follows the answer line (a
// password for --password-stdin, say) stays unread.
func Confirm(ios *iostreams.IOStreams, yes bool, action, question string, hints ...string) error {
	if yes {
		return nil
	}
	if err := RequireConfirmation(ios, false, action, hints...); err != nil {
		return err
	}
	fmt.Fprintf(ios.ErrOut, "%s [y/N] ", question)
	answer, err := readLine(ios.In)
	if err != nil {
		fmt.Fprintln(ios.ErrOut)
		return fmt.Errorf("%s: no answer to the confirmation: %w", action, err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	default:
		return Failed(fmt.Errorf("%s: %w", action, ErrNotConfirmed))
	}
}

// readLine reads up to a newline, without reading past it. A last line
// without a newline counts; end of input before any byte is io.EOF.
func readLine(r io.Reader) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := r.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				return string(line), nil
			}
			if len(line) < maxAnswer {
				line = append(line, b[0])
			}
		}
		switch {
		case errors.Is(err, io.EOF) && len(line) > 0:
			return string(line), nil
		case err != nil:
			return "", err
		}
	}
}
