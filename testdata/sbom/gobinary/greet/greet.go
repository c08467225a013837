// Package greet is a fixture dependency of tars-hello.
package greet

// Hello returns a greeting.
func Hello() string { return "hello from tars" }
