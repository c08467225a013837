// Package app runs tarsctl: it builds the factory and the command tree,
// executes the command under a signal-aware context, and turns the returned
// error into a message, hints and an exit code. It is the only place that
// decides exit codes.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cli/factory"
	"github.com/tars-ops/tarsctl/internal/cli/root"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// Main runs tarsctl with the process's arguments and environment and
// returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, restore the default handlers so a second
		// one ends the process at once.
		<-ctx.Done()
		stop()
	}()
	ios := iostreams.System(os.Getenv)
	return Run(ctx, ios, os.Getenv, os.Args[1:])
}

// Run executes one tarsctl command line and returns its exit code. Tests
// call it with test streams and a fake environment.
func Run(ctx context.Context, ios *iostreams.IOStreams, getenv func(string) string, args []string) int {
	f := factory.New(ios, getenv)
	rootCmd := root.NewCmdRoot(f)
	rootCmd.SetArgs(args)
	rootCmd.SetIn(ios.In)
	rootCmd.SetOut(ios.Out)
	rootCmd.SetErr(ios.ErrOut)

	cmd, err := rootCmd.ExecuteContextC(ctx)
	if err == nil {
		return cmdutil.ExitOK
	}
	if ctx.Err() != nil && !errors.Is(err, cmdutil.ErrSilent) {
		// The user interrupted us; whatever failed after that is noise.
		err = cmdutil.WithExitCode(cmdutil.ExitInterrupted, fmt.Errorf("interrupted"))
	}
	code := ExitCode(err)
	if !errors.Is(err, cmdutil.ErrSilent) {
		printError(ios.ErrOut, f.Globals.Output == cmdutil.OutputJSON, cmd, err, code)
	}
	if f.Globals.Verbose {
		for _, c := range cmdutil.ExitCodes {
			if c.Code == code {
				fmt.Fprintf(ios.ErrOut, "exit status %d: %s\n", code, c.Meaning)
			}
		}
	}
	return code
}

// ExitCode maps an error returned by a command to tarsctl's exit code.
func ExitCode(err error) int { return cmdutil.ExitCode(err) }

// printError writes the error and its hints to stderr: plain text, or one
// {"type":"error"} JSON line in JSON mode so log collectors can parse it.
func printError(w io.Writer, jsonMode bool, cmd *cobra.Command, err error, code int) {
	hints := cmdutil.Hints(err)
	var flagErr *cmdutil.FlagError
	if errors.As(err, &flagErr) && cmd != nil {
		hints = append(hints, fmt.Sprintf("run `%s --help` for usage", cmd.CommandPath()))
	}
	if jsonMode {
		if hints == nil {
			hints = []string{}
		}
		_ = ui.WriteJSONLine(w, map[string]any{
			"type":    "error",
			"code":    code,
			"message": err.Error(),
			"hint":    hints,
		})
		return
	}
	fmt.Fprintf(w, "error: %s\n", err)
	for _, h := range hints {
		fmt.Fprintf(w, "hint: %s\n", h)
	}
}
