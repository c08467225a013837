// Package orchestrator is the orchestration-agent daemon (port 8094): a
// registry of reinforcement-learning agents, each a tabular Q-learner on
// the CartPole environment of internal/rl, that it trains on request and
// whose Q-tables it keeps as checkpoints in the data directory.
//
// # Agents
//
// An agent is created by its first training run (POST
// /api/agents/{id}/train), with the seed and hyperparameters that request
// gives or the defaults. Its hyperparameters can be changed at any time
// (PUT /api/agents/{id}/hyperparameters, which is what HyperSync calls);
// an agent that is training picks them up from its next episode.
//
// # Training
//
// A training run executes in the goroutine of its request, once one of a
// bounded number of workers (GOMAXPROCS by default) is free, so runs of
// different agents proceed in parallel and reads are never blocked by
// them. An agent runs one training at a time: a second request gets 409.
// If the client goes away the run stops after the current episode and
// keeps what it learnt. Each run ends with the log line
//
//	Training completed agent=ID episodes=N mean_reward=R duration=Dms
//
// or "Training failed agent=ID episodes=N error=...", and updates the
// metrics orchestrator_training_duration_seconds,
// orchestrator_training_runs_total, orchestrator_training_episodes_total
// and the reward gauges orchestrator_agent_last_reward and
// orchestrator_agent_mean_reward.
//
// # Checkpoints
//
// Every change to an agent is written to DATA_DIR/orchestrator/agents/
// ID.qtable (mode 0600, atomically) before the request that made it is
// answered: a JSON document holding the Q-table, the random generator's
// state and the statistics, so a restarted daemon continues exactly where
// it stopped. With encryption.enabled the document is sealed in
// internal/crypto's AES-256-GCM format under the key of
// encryption.key_file. docs/formats.md specifies the file. A checkpoint
// that cannot be read at start-up (damaged, or sealed with a key that is
// not loaded) leaves its agent listed with status error, refuses changes to
// it, keeps the file untouched, and makes /health unhealthy.
//
// # Authentication
//
// internal/serviceapi checks dashboard-api's JWTs (viewer reads, operator
// acts), decodes request bodies and writes error answers, as on every
// daemon. Daemons call each other with short-lived tokens signed with the
// shared secret (serviceapi.ServiceTokens).
package orchestrator
