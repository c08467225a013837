// Package rl is the learning behind the orchestration agent: tabular
// Q-learning on environments implemented in Go. It does no I/O and keeps no
// global state; the orchestrator owns the learners, persists their
// [Snapshot]s and serves them over HTTP.
//
// # Environment
//
// [CartPole] is the classic pole-balancing task (Barto, Sutton and
// Anderson, 1983) with the dynamics and limits of Gymnasium's CartPole-v1:
// a pole hinged on a cart that is pushed left or right with a force of
// 10 N every 20 ms; the episode ends when the pole leans more than 12°, the
// cart leaves the ±2.4 m track, or after 500 steps. The reward is 1 per
// step the pole stays up, so an episode's reward is its length: a random
// policy averages about 22, a perfect one 500.
//
// The continuous state (cart position and velocity, pole angle and angular
// velocity) is discretised into a fixed grid of bins, which makes the
// problem small enough for a table: one Q-value per (bin, action). The
// pole's angle (±12°) and angular velocity (±50°/s) get 6 bins each and the
// cart's position and velocity one each, so the table has 36 states × 2
// actions: coarse tables like this learn to balance within a few hundred
// episodes, where finer grids need thousands.
//
// # Learning
//
// A [Learner] runs episodes with an ε-greedy policy and the one-step
// Q-learning update
//
//	Q(s,a) ← Q(s,a) + α (r + γ max_a' Q(s',a') − Q(s,a))
//
// where the bootstrap term is dropped when the pole fell or the cart left
// the track (a terminal state), but kept when the episode was only cut at
// its step limit. After each episode ε is multiplied by the decay, never
// going below its floor. [Hyperparameters] holds α (learning_rate), γ
// (discount), the starting ε (epsilon), the decay (epsilon_decay) and the
// floor (epsilon_min).
//
// # Reproducibility
//
// All randomness (start states, exploration, tie-breaking) comes from one
// PCG generator seeded by the agent's seed, and its state is part of the
// [Snapshot]. The same seed and the same sequence of training runs and
// hyperparameter changes give the same Q-table and the same rewards, bit
// for bit, across processes and restarts.
package rl
