// Package hypersync is the HyperSync daemon (port 8098): it receives
// accepted hyperparameter sets, records each one in a journal before it
// acknowledges it, and applies them to the orchestrator's running agents,
// retrying with backoff while the orchestrator is away, so a sync accepted
// during an orchestrator restart is applied when it returns. Each applied
// sync logs "HyperSync applied agent=ID latency=Nms".
package hypersync
