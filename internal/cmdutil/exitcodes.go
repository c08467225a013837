package cmdutil

// Exit codes. They are part of tarsctl's interface: scripts, cron jobs and CI
// pipelines branch on them, so they never change meaning. `tarsctl help
// exit-codes` prints [ExitCodes].
const (
	ExitOK          = 0   // success, including an empty result
	ExitFailure     = 1   // the operation failed or a check found a problem
	ExitUsage       = 2   // bad usage or bad input
	ExitUnreachable = 3   // a dependency could not be reached
	ExitPermission  = 4   // credentials or permission denied
	ExitTimeout     = 6   // timed out
	ExitInterrupted = 130 // interrupted (SIGINT/SIGTERM)
)

// ExitCodeDoc documents one exit code.
type ExitCodeDoc struct {
	Code    int
	Meaning string
}

// ExitCodes lists every exit code tarsctl uses, in order.
var ExitCodes = []ExitCodeDoc{
	{ExitOK, "success, including an empty result"},
	{ExitFailure, "the operation failed, or a check found a problem (unhealthy, verification failed, regression, threshold breached)"},
	{ExitUsage, "bad usage or bad input: unknown flag or argument, invalid config file, a confirmation needed without a terminal"},
	{ExitUnreachable, "a dependency could not be reached (Redis, PostgreSQL, a daemon, the Kubernetes API)"},
	{ExitPermission, "credentials or permission denied"},
	{ExitTimeout, "timed out (waiting for ready, for stop, or for a check)"},
	{ExitInterrupted, "interrupted by SIGINT or SIGTERM"},
}
