package backup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Manifest format identifiers.
const (
	ManifestFormat  = "tarsctl-backup"
	ManifestVersion = 1
	// ManifestFile and SumsFile are the names of a set's manifest and of
	// its checksum list (sha256sum format, so `sha256sum -c SHA256SUMS`
	// checks a set without tarsctl).
	ManifestFile = "manifest.json"
	SumsFile     = "SHA256SUMS"
	// maxManifestSize caps how much of a manifest is read.
	maxManifestSize = 1 << 20
)

// Part kinds.
const (
	KindPostgres  = "postgres"   // pg_dump output
	KindRedisRDB  = "redis-rdb"  // an RDB snapshot fetched over replication
	KindRedisKeys = "redis-keys" // a portable DUMP/PTTL key dump
	KindDir       = "dir"        // a directory as tar
	KindConfig    = "config"     // the effective configuration as YAML
)

// Part formats.
const (
	FormatPgCustom  = "pg_dump-custom"     // pg_dump --format=custom
	FormatPgSQL     = "pg_dump-sql"        // pg_dump --format=plain
	FormatRDB       = "redis-rdb"          // RDB file
	FormatRedisKeys = "tarsctl-redis-keys" // JSON Lines, see redis_keys.go
	FormatTar       = "tar"                // POSIX (PAX) tar
	FormatYAML      = "yaml"
)

// Compression of a part file.
const (
	CompressionNone = "none"
	CompressionZstd = "zstd"
)

// EncryptionAlgorithm is the only algorithm parts are encrypted with; see
// internal/crypto.
const EncryptionAlgorithm = "AES-256-GCM"

// Manifest describes one backup set. It is written as manifest.json in the
// set's directory, and its SHA-256 is in the set's SHA256SUMS.
type Manifest struct {
	Format         string      `json:"format"`
	FormatVersion  int         `json:"format_version"`
	ID             string      `json:"id"`
	Time           time.Time   `json:"time"`     // when the backup started
	Finished       time.Time   `json:"finished"` // when the last part was written
	TarsctlVersion string      `json:"tarsctl_version"`
	Profile        string      `json:"profile"`
	Host           string      `json:"host"`
	Tags           []string    `json:"tags"`
	Encryption     *Encryption `json:"encryption"` // nil when not encrypted
	Parts          []Part      `json:"parts"`
}

// Encryption says how a set's parts are encrypted.
type Encryption struct {
	Algorithm string `json:"algorithm"`
	KeyID     string `json:"key_id"`
}

// Part is one file of a backup set: what it holds and how to check it.
type Part struct {
	Name        string `json:"name"`        // unique in the set: "postgres", "dir-data"
	Kind        string `json:"kind"`        // Kind*
	Source      string `json:"source"`      // where it came from, never with a password
	Format      string `json:"format"`      // Format*
	File        string `json:"file"`        // file name in the set directory
	Compression string `json:"compression"` // Compression*
	// KeyID is the id of the key that encrypted the file (see
	// crypto.KeyID), empty when the part is not encrypted.
	KeyID  string `json:"encryption_key_id"`
	Size   int64  `json:"size"`   // bytes of the file
	SHA256 string `json:"sha256"` // of the file, hex
	// RawSize is the size of the content before compression and
	// encryption.
	RawSize int64 `json:"raw_size"`
	// Entries counts what the part holds, by kind: files and directories
	// (dir), keys (redis-keys), tables (postgres). A deep verification
	// checks the restored copy against it.
	Entries int64 `json:"entries"`
	// ServerVersion is the version of the server dumped, if any.
	ServerVersion string `json:"server_version,omitempty"`
	// Skipped lists what a source left out and why, such as sockets in a
	// directory.
	Skipped []string `json:"skipped,omitempty"`
}

// The patterns compile on first use: counted repetitions such as {0,127}
// cost milliseconds to compile, which every tarsctl command would pay at
// start-up if they were compiled at package init.
var (
	idPattern     = lazyRegexp(`^[0-9]{8}-[0-9]{6}-[0-9a-f]{8}$`)
	namePattern   = lazyRegexp(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	filePattern   = lazyRegexp(`^[a-z0-9][a-z0-9._-]{0,127}$`)
	keyIDPattern  = lazyRegexp(`^[0-9a-f]{16}$`)
	sha256Pattern = lazyRegexp(`^[0-9a-f]{64}$`)
)

func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

var knownFormats = map[string][]string{
	KindPostgres:  {FormatPgCustom, FormatPgSQL},
	KindRedisRDB:  {FormatRDB},
	KindRedisKeys: {FormatRedisKeys},
	KindDir:       {FormatTar},
	KindConfig:    {FormatYAML},
}

// ValidID reports whether id has the form of a backup set id:
// YYYYMMDD-HHMMSS-xxxxxxxx.
func ValidID(id string) bool { return idPattern().MatchString(id) }

// ParseManifest decodes and validates a manifest. Errors wrap [ErrManifest]
// and name the field at fault.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrManifest)
	}
	if len(data) > maxManifestSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrManifest, maxManifestSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON document", ErrManifest)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks every field a reader relies on, above all the file
// names: a manifest names the files a restore opens, so a name that could
// leave the set directory is refused here.
func (m *Manifest) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrManifest, fmt.Sprintf(format, args...))
	}
	if m.Format != ManifestFormat {
		return bad("format is %q, want %q", m.Format, ManifestFormat)
	}
	if m.FormatVersion != ManifestVersion {
		return bad("format_version is %d; this tarsctl reads version %d", m.FormatVersion, ManifestVersion)
	}
	if !ValidID(m.ID) {
		return bad("id %q is not of the form YYYYMMDD-HHMMSS-xxxxxxxx", m.ID)
	}
	if m.Time.IsZero() {
		return bad("time is missing")
	}
	if m.Encryption != nil && (m.Encryption.Algorithm != EncryptionAlgorithm || !keyIDPattern().MatchString(m.Encryption.KeyID)) {
		return bad("encryption is %+v, want algorithm %s and a 16-hex-digit key id", *m.Encryption, EncryptionAlgorithm)
	}
	if len(m.Parts) == 0 {
		return bad("no parts")
	}
	names := map[string]bool{}
	files := map[string]bool{ManifestFile: true, SumsFile: true, verifyFile: true}
	for i, p := range m.Parts {
		where := fmt.Sprintf("parts[%d]", i)
		if !namePattern().MatchString(p.Name) {
			return bad("%s.name %q is not a part name (lower-case letters, digits, - and _)", where, p.Name)
		}
		if names[p.Name] {
			return bad("%s.name %q appears twice", where, p.Name)
		}
		names[p.Name] = true
		formats, ok := knownFormats[p.Kind]
		if !ok {
			return bad("%s.kind %q is not a known kind", where, p.Kind)
		}
		if !slices.Contains(formats, p.Format) {
			return bad("%s.format %q is not a format of kind %s", where, p.Format, p.Kind)
		}
		if !filePattern().MatchString(p.File) || strings.Contains(p.File, "..") || files[p.File] {
			return bad("%s.file %q is not a plain file name of its own", where, p.File)
		}
		files[p.File] = true
		if p.Compression != CompressionNone && p.Compression != CompressionZstd {
			return bad("%s.compression %q: want none or zstd", where, p.Compression)
		}
		if p.KeyID != "" && !keyIDPattern().MatchString(p.KeyID) {
			return bad("%s.encryption_key_id %q is not 16 hex digits", where, p.KeyID)
		}
		if (p.KeyID != "") != (m.Encryption != nil) || (m.Encryption != nil && p.KeyID != m.Encryption.KeyID) {
			return bad("%s.encryption_key_id %q does not match the set's encryption", where, p.KeyID)
		}
		if !sha256Pattern().MatchString(p.SHA256) {
			return bad("%s.sha256 %q is not 64 lower-case hex digits", where, p.SHA256)
		}
		if p.Size < 0 || p.RawSize < 0 || p.Entries < 0 {
			return bad("%s has a negative size or count", where)
		}
	}
	return nil
}

// Part returns the part with the given name.
func (m *Manifest) Part(name string) (Part, bool) {
	for _, p := range m.Parts {
		if p.Name == name {
			return p, true
		}
	}
	return Part{}, false
}

// Size is the total size of the set's part files.
func (m *Manifest) Size() int64 {
	var n int64
	for _, p := range m.Parts {
		n += p.Size
	}
	return n
}

// marshalManifest encodes m the way it is stored: indented, with a final
// newline.
func marshalManifest(m *Manifest) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// sums is the content of a SHA256SUMS file: file name → hex SHA-256.
type sums map[string]string

// marshal writes the sums in sha256sum's format, sorted by file name.
func (s sums) marshal() []byte {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	slices.Sort(names)
	var b bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", s[n], n)
	}
	return b.Bytes()
}

// parseSums reads a SHA256SUMS file strictly: "HEX  NAME" lines, names
// that are plain file names.
func parseSums(data []byte) (sums, error) {
	if len(data) > maxManifestSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", SumsFile, maxManifestSize)
	}
	s := sums{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || !sha256Pattern().MatchString(sum) || (name != ManifestFile && !filePattern().MatchString(name)) {
			return nil, fmt.Errorf("%s line %d: want \"SHA256  FILE\"", SumsFile, line)
		}
		if _, dup := s[name]; dup {
			return nil, fmt.Errorf("%s line %d: %s listed twice", SumsFile, line, name)
		}
		s[name] = sum
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", SumsFile, err)
	}
	return s, nil
}

func hexSum(b []byte) string { return hex.EncodeToString(b) }

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
