package sbom

import (
	"strings"
)

// PURL builds a package URL (https://github.com/package-url/purl-spec)
// without qualifiers: pkg:TYPE/NAMESPACE/NAME@VERSION, each segment
// percent-encoded. For Go, namespace and name come from the module path
// ("github.com/spf13/cobra" → namespace "github.com/spf13", name "cobra");
// for npm, a scope is the namespace ("@types/node" → "%40types/node").
func PURL(eco Ecosystem, name, version string) string {
	var ns, n string
	switch eco {
	case Golang:
		if i := strings.LastIndex(name, "/"); i >= 0 {
			ns, n = name[:i], name[i+1:]
		} else {
			n = name
		}
	case NPM:
		if strings.HasPrefix(name, "@") {
			if i := strings.Index(name, "/"); i >= 0 {
				ns, n = name[:i], name[i+1:]
			} else {
				n = name
			}
		} else {
			n = name
		}
	case PyPI:
		n = NormalizePyPI(name)
	default:
		n = name
	}
	var b strings.Builder
	b.WriteString("pkg:")
	b.WriteString(string(eco))
	b.WriteByte('/')
	if ns != "" {
		for _, seg := range strings.Split(ns, "/") {
			b.WriteString(purlEscape(seg))
			b.WriteByte('/')
		}
	}
	b.WriteString(purlEscape(n))
	if version != "" {
		b.WriteByte('@')
		b.WriteString(purlEscape(version))
	}
	return b.String()
}

// purlEscape percent-encodes everything but the unreserved characters.
func purlEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
