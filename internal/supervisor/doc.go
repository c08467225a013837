// Package supervisor starts, stops and inspects the T.A.R.S. daemons that
// tarsctl runs on this machine, the way supervisorctl or gitlab-ctl do,
// without ps or pkill.
//
// # Pidfiles
//
// Each running daemon has RUN_DIR/<service>.pid, a JSON record of its pid,
// the process's start time (from /proc), port, version, command line and
// when it started. The start time is what makes a pidfile trustworthy: a
// pid whose process has a different start time belongs to some other
// program now, so the pidfile is stale, and tarsctl never signals that
// process. Pidfiles are written atomically while holding RUN_DIR/<service>.lock
// (flock), so two tarsctl runs cannot race on one service.
//
// # Processes
//
// A daemon runs in its own session and process group, so stopping it
// signals the whole group and no child survives: SIGTERM first, SIGKILL
// after the timeout.
package supervisor
