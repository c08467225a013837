// Package cmdutil holds what every command shares: the [Factory] of lazily
// built dependencies, the error types that decide exit codes, the exit-code
// constants, and helpers for flags and --output.
//
// # Errors and exit codes
//
// Commands return errors and never print them or exit. internal/app sorts the
// returned error into an exit code: [*FlagError] → 2, [ErrSilent] → 1 with no
// text, [*ExitError] → its code, and a few well-known causes (a cancelled
// context, a deadline, a permission error) → their codes. [WithHint] adds
// advice that is printed after the message.
package cmdutil
