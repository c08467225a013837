package services

import "slices"

// TB is the part of testing.TB [TestOnlyRegister] uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// TestOnlyRegister adds e at the end of the catalog until t ends, so a test
// can check that what is derived from the catalog (the chart, the Compose
// file, status, triage) shows an entry nothing else knows about. It fails
// t when the catalog with e is invalid. Tests that call it must not run in
// parallel with others of their package: the catalog is the process's.
func TestOnlyRegister(t TB, e Entry) {
	t.Helper()
	mu.Lock()
	next := append(slices.Clone(entries), e)
	if err := Validate(next); err != nil {
		mu.Unlock()
		t.Fatalf("register %s: %v", e.Name, err)
		return
	}
	entries = next
	mu.Unlock()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		entries = slices.DeleteFunc(slices.Clone(entries), func(x Entry) bool { return x.Name == e.Name })
	})
}
