// Package client is a Go client for the HTTP APIs of the T.A.R.S. daemons
// that tarsctl serves: the orchestration agent (port 8094), which trains
// reinforcement-learning agents, and HyperSync (port 8098), which pushes
// accepted hyperparameters to them. tarsctl itself, dashboard-api and
// HyperSync use it to talk to each other, and so can other Go programs.
// It imports nothing from tarsctl's internal packages.
//
// # Authentication
//
// The daemons take the dashboard API's JWTs as bearer tokens: a viewer may
// read, an operator may train and change hyperparameters. Pass a token
// with [WithToken], or a function that returns a fresh one per request
// with [WithTokenSource] (the daemons use short-lived tokens they sign
// themselves). When the daemons run with auth.enabled false, no token is
// needed.
//
// # Errors
//
// A request the daemon answered with an error status returns an
// [*APIError] carrying the status code and the daemon's message (its body
// is an [ErrorBody], the same on every daemon); match the
// common cases with errors.Is and [ErrNotFound], [ErrConflict],
// [ErrUnauthorized], [ErrForbidden] or [ErrBadRequest]. A daemon that
// cannot be reached gives the transport's error (for example a
// *net.OpError wrapping ECONNREFUSED), which [IsUnreachable] recognises.
//
// # Concurrency
//
// A [Client] is safe for concurrent use by multiple goroutines.
package client
