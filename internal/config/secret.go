package config

import (
	"fmt"
	"os"
	"strings"
)

// Secret is a configuration value that must never be printed: a literal
// secret, or a reference to one — "file:PATH" (the file's contents, trailing
// newline removed) or "env:NAME" (an environment variable). References are
// resolved only by the code that needs the secret, through [Secret.Resolve].
type Secret string

// Redacted is what [Secret.Redacted] shows in place of a literal secret.
const Redacted = "[redacted]"

// IsSet reports whether the secret has a value or a reference.
func (s Secret) IsSet() bool { return s != "" }

// IsReference reports whether s names where the secret lives rather than
// holding it.
func (s Secret) IsReference() bool {
	return strings.HasPrefix(string(s), "file:") || strings.HasPrefix(string(s), "env:")
}

// Redacted returns a form of s that is safe to print: references as they
// are (they hold no secret), literals as [Redacted], empty as empty.
func (s Secret) Redacted() string {
	switch {
	case s == "":
		return ""
	case s.IsReference():
		return string(s)
	default:
		return Redacted
	}
}

// String keeps secrets out of fmt's %v and %s.
func (s Secret) String() string { return s.Redacted() }

// GoString keeps secrets out of fmt's %#v.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.Redacted()) }

// Resolve returns the secret's value, reading a referenced file or
// environment variable. Errors name the reference, never the value.
func (s Secret) Resolve(getenv func(string) string) (string, error) {
	v := string(s)
	switch {
	case strings.HasPrefix(v, "file:"):
		path := strings.TrimPrefix(v, "file:")
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read secret file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case strings.HasPrefix(v, "env:"):
		name := strings.TrimPrefix(v, "env:")
		val := getenv(name)
		if val == "" {
			return "", fmt.Errorf("secret environment variable %s is not set", name)
		}
		return val, nil
	default:
		return v, nil
	}
}
