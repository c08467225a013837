// Package archtest checks tarsctl's layering: which packages may import
// which. Its test loads the module's package graph with `go list` and
// fails, naming the importing package, the import, the rule and the fix,
// on every import that breaks one of [Rules]; `make test` runs it, so CI
// fails on a violation.
//
// # The layers
//
// Imports point one way: cmd/ → internal/app → internal/cli/root → one
// command group in internal/cli/<group> → plumbing (internal/cmdutil,
// internal/iostreams, internal/ui) and domain packages (everything else
// under internal/) → pkg/. Command groups do not use each other: what two
// of them share is either domain logic (its domain package) or a command
// helper (internal/cmdutil). Domain packages never print and never know
// about cobra or terminals, so a daemon, a test and a command can all use
// them. Service daemons (internal/services/<name>) do not use each other's
// packages: they talk over HTTP (pkg/client) and share internal/services,
// internal/daemon and the domain packages.
//
// # What is checked
//
// The rules govern production code: each package's non-test imports,
// merged over the build configurations in [Builds]. Tests may import what
// they need (a daemon's test may start a sibling daemon; a command test
// may run internal/app), except that the harnesses themselves are for
// tests only. [Exceptions] lists known violations kept on purpose while
// another change removes them; an exception that no longer matches fails
// the test so it gets deleted.
//
// docs/contributing-layout.md is the contributor's version of this.
package archtest
