// Package secrets generates the secrets a T.A.R.S. deployment needs — the
// runbook's generate_secrets.sh — and writes them as files, as an .env
// file, or as Kubernetes Secret manifests with the runbook's names.
//
// It never prints. Values live only in the [Set] it returns and in the
// files it writes (0600, directory 0700, atomically, never overwriting an
// existing file unless asked).
package secrets
