// Package agentspec holds the rules an agent request must follow, shared
// by the orchestration agent (which enforces them), HyperSync (which
// checks a sync against them before it records it) and `tarsctl agents`
// (which checks flags before it sends them). It exists so that none of
// them imports another: the daemons do not import each other, and the
// CLI does not reach into a daemon's package for a validator.
//
// # Agent ids
//
// An id names the agent's checkpoint file, so [ValidateID] allows only
// letters, digits, '.', '_' and '-', 1 to 64 of them, not starting with
// '.' or '-'.
//
// # Hyperparameter updates
//
// [ValidateUpdate] checks the values an update sets against the ranges of
// [rl.Hyperparameters.Validate]. It cannot check what depends on the
// agent's current values (epsilon_min ≤ epsilon when only one is given);
// the orchestrator checks the result as a whole when it applies it.
package agentspec

import (
	"errors"
	"fmt"

	"github.com/tars-ops/tarsctl/internal/rl"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// ErrInvalid is a request that cannot be carried out as given: a bad
// agent id, episode count or hyperparameter. The daemons answer it with
// 400.
var ErrInvalid = errors.New("invalid request")

// ValidateID checks an agent id: 1 to 64 letters, digits, '.', '_' or
// '-', not starting with '.' or '-'. Ids name checkpoint files, so nothing
// else is allowed. The error wraps [ErrInvalid].
func ValidateID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("%w: agent id %q: use 1 to 64 characters", ErrInvalid, id)
	}
	for i, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || (i > 0 && (c == '.' || c == '-'))
		if !ok {
			return fmt.Errorf("%w: agent id %q: use letters, digits, '.', '_' and '-', starting with a letter, digit or '_'", ErrInvalid, id)
		}
	}
	return nil
}

// ValidateUpdate checks each value that u sets against its range, without
// knowing the agent: whether epsilon_min ≤ epsilon holds when u sets only
// one of them depends on the agent's other value, which only the
// orchestrator knows. It returns an [*rl.InvalidError] or, for an empty
// update, an error wrapping [ErrInvalid].
func ValidateUpdate(u client.HyperparameterUpdate) error {
	if u.IsEmpty() {
		return fmt.Errorf("%w: no hyperparameters given", ErrInvalid)
	}
	h := rl.Hyperparameters(u.Apply(client.Hyperparameters(rl.DefaultHyperparameters())))
	if u.EpsilonMin != nil && u.Epsilon == nil {
		h.Epsilon = 1
	}
	return h.Validate()
}
