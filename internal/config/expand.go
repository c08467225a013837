package config

import (
	"errors"
	"strings"
)

// expand replaces ${VAR} and ${VAR:-default} in s with values from getenv.
// Only the braced form is expanded, so a literal "$" in a password survives;
// "$${" writes a literal "${". It returns the names of variables that were
// unset and had no default.
func expand(s string, getenv func(string) string) (string, []string, error) {
	if !strings.Contains(s, "${") {
		return s, nil, nil
	}
	var b strings.Builder
	var missing []string
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			// Never quote s: it may be a secret.
			return "", nil, errors.New("unterminated ${ (write $${ for a literal ${)")
		}
		expr := s[i+2 : i+2+end]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validVarName(name) {
			return "", nil, errors.New("invalid variable name in ${...}: expected letters, digits and _, not starting with a digit")
		}
		v := getenv(name)
		switch {
		case v != "":
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		default:
			missing = append(missing, name)
		}
		i += 2 + end + 1
	}
	return b.String(), missing, nil
}

func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
