package serviceapi

import (
	"slices"

	"github.com/tars-ops/tarsctl/internal/store"
)

// RoleRank is the rank of role: 1 for the least privileged of
// [store.Roles] (viewer) up to len(store.Roles) for the most (admin); 0
// for a role that is not one of them. The order of [store.Roles] is the
// one ranking every daemon and command uses.
func RoleRank(role string) int {
	i := slices.Index(store.Roles, role)
	if i < 0 {
		return 0
	}
	return len(store.Roles) - i
}

// RoleAtLeast reports whether role may do what min may: both are known
// roles and role ranks at least as high. An unknown role, or an unknown
// min, is never enough, so a typo fails closed.
func RoleAtLeast(role, min string) bool {
	r, m := RoleRank(role), RoleRank(min)
	return r > 0 && m > 0 && r >= m
}
