package triage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"
)

// BundleOptions say what goes into a support bundle.
type BundleOptions struct {
	// LogDir holds the daemons' *.log files.
	LogDir string
	// Since drops log lines older than this (zero: keep all).
	Since time.Time
	// MaxLogBytes bounds each log file: only its last MaxLogBytes are kept.
	MaxLogBytes int64
	// Files are extra documents (redacted config, check results, versions,
	// system facts) by name inside the bundle.
	Files map[string]any
	// Secrets are resolved secret values to remove wherever they appear.
	Secrets []string
	Now     time.Time
}

// ManifestFile is one entry of a bundle.
type ManifestFile struct {
	Path       string `json:"path"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256"`
	Redactions int    `json:"redactions"`
	Truncated  bool   `json:"truncated,omitempty"`
}

// Manifest lists what a bundle holds and what was redacted.
type Manifest struct {
	CreatedAt time.Time      `json:"created_at"`
	Since     *time.Time     `json:"since,omitempty"`
	Files     []ManifestFile `json:"files"`
	// Redacted names the kinds of values replaced by [REDACTED].
	Redacted   []string `json:"redacted"`
	Redactions int      `json:"redactions"`
}

// redaction patterns: JWTs, bearer tokens, passwords in URLs, key=value
// secrets and PEM private keys.
var redactions = []struct {
	kind string
	re   *regexp.Regexp
	repl string
}{
	{"jwt", regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`), "[REDACTED]"},
	{"bearer token", regexp.MustCompile(`(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}`), "${1}[REDACTED]"},
	{"url password", regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s]+@`), "${1}[REDACTED]@"},
	{"key=value secret", regexp.MustCompile(`(?i)((?:password|passwd|secret|token|api[_-]?key|private[_-]?key)["']?\s*[=:]\s*["']?)[^\s"',}&]+`), "${1}[REDACTED]"},
	{"private key", regexp.MustCompile(`(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----`), "[REDACTED PRIVATE KEY]"},
}

// secretMarkers is a cheap filter: a line with none of these cannot match a
// redaction pattern.
var secretMarkers = [][]byte{
	[]byte("eyJ"), []byte("://"), []byte("earer"), []byte("EARER"), []byte("ass"), []byte("ASS"),
	[]byte("ecret"), []byte("ECRET"), []byte("oken"), []byte("OKEN"), []byte("_key"), []byte("-key"),
	[]byte("_KEY"), []byte("pikey"), []byte("PIKEY"), []byte("PRIVATE"),
}

// Redactor removes secrets from text.
type Redactor struct {
	secrets [][]byte
	kinds   map[string]bool
}

// NewRedactor returns a redactor for the given literal secrets plus the
// built-in patterns.
func NewRedactor(secrets []string) *Redactor {
	r := &Redactor{kinds: map[string]bool{}}
	for _, s := range secrets {
		if len(s) >= 4 {
			r.secrets = append(r.secrets, []byte(s))
		}
	}
	return r
}

// Redact returns b with secrets replaced, and how many replacements. The
// patterns run line by line, and only on lines that could match.
func (r *Redactor) Redact(b []byte) ([]byte, int) {
	n := 0
	for _, s := range r.secrets {
		if c := bytes.Count(b, s); c > 0 {
			b = bytes.ReplaceAll(b, s, []byte("[REDACTED]"))
			n += c
			r.kinds["configured secret"] = true
		}
	}
	// PEM private keys span lines.
	if bytes.Contains(b, []byte("PRIVATE KEY-----")) {
		p := redactions[len(redactions)-1]
		if c := len(p.re.FindAllIndex(b, -1)); c > 0 {
			b = p.re.ReplaceAll(b, []byte(p.repl))
			n += c
			r.kinds[p.kind] = true
		}
	}
	out := b[:0:0]
	changed := false
	rest := b
	for len(rest) > 0 {
		end := bytes.IndexByte(rest, '\n') + 1
		if end == 0 {
			end = len(rest)
		}
		line := rest[:end]
		rest = rest[end:]
		if marked(line) {
			for _, p := range redactions[:len(redactions)-1] {
				if c := len(p.re.FindAllIndex(line, -1)); c > 0 {
					if !changed {
						out = append(make([]byte, 0, len(b)), b[:len(b)-len(rest)-len(line)]...)
						changed = true
					}
					line = p.re.ReplaceAll(line, []byte(p.repl))
					n += c
					r.kinds[p.kind] = true
				}
			}
		}
		if changed {
			out = append(out, line...)
		}
	}
	if !changed {
		return b, n
	}
	return out, n
}

func marked(line []byte) bool {
	for _, m := range secretMarkers {
		if bytes.Contains(line, m) {
			return true
		}
	}
	return false
}

// Kinds lists the kinds of secrets redacted so far.
func (r *Redactor) Kinds() []string {
	out := []string{}
	for k := range r.kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// WriteBundle writes a gzip-compressed tar support bundle to w and returns
// its manifest, which is also the bundle's manifest.json.
func WriteBundle(ctx context.Context, w io.Writer, o BundleOptions) (*Manifest, error) {
	gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	red := NewRedactor(o.Secrets)
	m := &Manifest{CreatedAt: o.Now.UTC(), Files: []ManifestFile{}}
	if !o.Since.IsZero() {
		s := o.Since.UTC()
		m.Since = &s
	}
	add := func(name string, data []byte, truncated bool) error {
		data, n := red.Redact(data)
		sum := sha256.Sum256(data)
		m.Files = append(m.Files, ManifestFile{Path: name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Redactions: n, Truncated: truncated})
		m.Redactions += n
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: o.Now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	names := make([]string, 0, len(o.Files))
	for n := range o.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := json.MarshalIndent(o.Files[n], "", "  ")
		if err != nil {
			return nil, err
		}
		if err := add(n, append(b, '\n'), false); err != nil {
			return nil, err
		}
	}
	logs, _ := filepath.Glob(filepath.Join(o.LogDir, "*.log*"))
	sort.Strings(logs)
	for _, p := range logs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, truncated, err := readLog(p, o.MaxLogBytes, o.Since)
		if err != nil {
			return nil, err
		}
		if data == nil {
			continue
		}
		if err := add("logs/"+filepath.Base(p), data, truncated); err != nil {
			return nil, err
		}
	}
	m.Redacted = red.Kinds()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	if err := tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o600, Size: int64(len(b)), ModTime: o.Now, Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(b); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return m, gz.Close()
}

// readLog returns the tail of path (at most max bytes, from a line start)
// without the lines older than since, or nil when the file is older.
func readLog(path string, max int64, since time.Time) ([]byte, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, false, err
	}
	if !since.IsZero() && fi.ModTime().Before(since) {
		return nil, false, nil
	}
	off, truncated := int64(0), false
	if max > 0 && fi.Size() > max {
		off, truncated = fi.Size()-max, true
	}
	data := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(data, off); err != nil && err != io.EOF {
		return nil, false, err
	}
	if truncated {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	if !since.IsZero() {
		// Lines are in time order: drop the leading ones before since.
		for len(data) > 0 {
			end := bytes.IndexByte(data, '\n')
			if end < 0 {
				end = len(data) - 1
			}
			if ts, _, ok := lineTime(string(data[:end])); ok && !ts.Before(since) {
				break
			}
			data = data[end+1:]
		}
	}
	return data, truncated, nil
}
