package agentspec

import (
	"errors"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/rl"
	"github.com/tars-ops/tarsctl/pkg/client"
)

func TestValidateID(t *testing.T) {
	t.Parallel()
	for id, ok := range map[string]bool{
		"a": true, "agent-1": true, "A.b_c-9": true, "_x": true, strings.Repeat("a", 64): true,
		"": false, ".hidden": false, "-flag": false, "a/b": false, "a b": false, "../x": false, strings.Repeat("a", 65): false, "é": false,
	} {
		err := ValidateID(id)
		if (err == nil) != ok {
			t.Errorf("ValidateID(%q) = %v", id, err)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateID(%q) = %v, want it to wrap ErrInvalid", id, err)
		}
	}
}

func TestValidateUpdate(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	var inv *rl.InvalidError
	for _, tc := range []struct {
		name  string
		u     client.HyperparameterUpdate
		field string // "" = valid
	}{
		{"learning rate", client.HyperparameterUpdate{LearningRate: f(0.3)}, ""},
		{"epsilon_min alone", client.HyperparameterUpdate{EpsilonMin: f(0.5)}, ""},
		{"learning rate zero", client.HyperparameterUpdate{LearningRate: f(0)}, "learning_rate"},
		{"discount above one", client.HyperparameterUpdate{Discount: f(1.5)}, "discount"},
		{"epsilon_min over epsilon", client.HyperparameterUpdate{Epsilon: f(0.1), EpsilonMin: f(0.2)}, "epsilon_min"},
	} {
		err := ValidateUpdate(tc.u)
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (!errors.As(err, &inv) || inv.Field != tc.field):
			t.Errorf("%s: %v, want an *rl.InvalidError for %s", tc.name, err, tc.field)
		}
	}
	if err := ValidateUpdate(client.HyperparameterUpdate{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty update: %v, want ErrInvalid", err)
	}
}
