package verify

import (
	"crypto"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// PredicateSLSAProvenanceV1 is the predicate type of SLSA provenance v1.
const PredicateSLSAProvenanceV1 = "https://slsa.dev/provenance/v1"

// Subject is one artifact a statement is about.
type Subject struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// ProvenanceResult is what [Provenance] checked.
type ProvenanceResult struct {
	// KeyID is the [KeyID] of the key whose signature verified.
	KeyID string
	// Statement is the verified in-toto statement and Predicate its SLSA
	// provenance predicate.
	Statement *intoto.Statement
	Predicate *slsa.Provenance
	// Subjects are all subjects with a SHA-256 digest; Matched are those
	// the artifacts and digests asked for matched, in the order asked.
	Subjects []Subject
	Matched  []Subject
	// BuilderID is runDetails.builder.id; Sources are the URIs of the
	// source the provenance names (buildDefinition.externalParameters.source
	// and the resolved dependencies).
	BuilderID string
	Sources   []string
}

type provenanceConfig struct {
	artifacts []string
	digests   []string
	builderID string
	sourceURI string
}

// ProvenanceOption adds a policy check to [Provenance].
type ProvenanceOption func(*provenanceConfig)

// WithArtifactFile requires the SHA-256 of the file at path to be a subject.
func WithArtifactFile(path string) ProvenanceOption {
	return func(c *provenanceConfig) { c.artifacts = append(c.artifacts, path) }
}

// WithDigest requires digest, "sha256:" and 64 hex digits, to be a subject:
// for verifiers that never see the artifact itself.
func WithDigest(digest string) ProvenanceOption {
	return func(c *provenanceConfig) { c.digests = append(c.digests, digest) }
}

// WithBuilderID requires runDetails.builder.id to equal id exactly.
func WithBuilderID(id string) ProvenanceOption {
	return func(c *provenanceConfig) { c.builderID = id }
}

// WithSourceURI requires the provenance to name uri as its source. The
// comparison ignores a "git+" prefix, the URL scheme, a trailing ".git" and,
// unless uri has one, the "@ref" suffix: "github.com/org/repo" matches
// "git+https://github.com/org/repo@refs/heads/main".
func WithSourceURI(uri string) ProvenanceOption {
	return func(c *provenanceConfig) { c.sourceURI = uri }
}

// Provenance verifies SLSA provenance v1 in a DSSE envelope, fully offline:
// the signature with pub, the payload type, the in-toto Statement v1 and
// SLSA predicate (with their Validate rules), and then each policy option.
// The checks run in that order and the first failure is returned; every
// failure matches [ErrVerificationFailed]. Input that cannot be parsed at all
// fails with [ErrMalformedEnvelope] or [ErrMalformedDigest].
func Provenance(envelope []byte, pub crypto.PublicKey, opts ...ProvenanceOption) (*ProvenanceResult, error) {
	var cfg provenanceConfig
	for _, o := range opts {
		o(&cfg)
	}
	for _, d := range cfg.digests {
		if _, err := ParseDigest(d); err != nil {
			return nil, err
		}
	}

	env, err := ParseEnvelope(envelope)
	if err != nil {
		return nil, err
	}
	keyID, err := env.Verify(pub)
	if err != nil {
		return nil, err
	}
	if env.PayloadType != PayloadTypeInToto {
		return nil, fmt.Errorf("%w: %q, want %q", ErrPayloadType, env.PayloadType, PayloadTypeInToto)
	}
	res, err := statement(env.Payload, cfg)
	if err != nil {
		return nil, err
	}
	res.KeyID = keyID
	return res, nil
}

// Statement checks an in-toto statement that is not signed (as
// `tarsctl slsa generate` writes without --sign) against the same rules
// and policy options as [Provenance]. It proves nothing about who made the
// statement: only a signature does that.
func Statement(payload []byte, opts ...ProvenanceOption) (*ProvenanceResult, error) {
	var cfg provenanceConfig
	for _, o := range opts {
		o(&cfg)
	}
	for _, d := range cfg.digests {
		if _, err := ParseDigest(d); err != nil {
			return nil, err
		}
	}
	return statement(payload, cfg)
}

func statement(payload []byte, cfg provenanceConfig) (*ProvenanceResult, error) {
	res := &ProvenanceResult{}
	var st intoto.Statement
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("%w: payload is not an in-toto statement: %v", ErrInvalidStatement, err)
	}
	if st.GetType() != intoto.StatementTypeUri {
		return nil, fmt.Errorf("%w: %q, want %q", ErrStatementType, st.GetType(), intoto.StatementTypeUri)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidStatement, err)
	}
	if st.GetPredicateType() != PredicateSLSAProvenanceV1 {
		return nil, fmt.Errorf("%w: %q, want %q", ErrPredicateType, st.GetPredicateType(), PredicateSLSAProvenanceV1)
	}
	pred, err := PredicateOf(&st)
	if err != nil {
		return nil, err
	}
	res.Statement, res.Predicate = &st, pred
	res.BuilderID = pred.GetRunDetails().GetBuilder().GetId()
	res.Sources = Sources(pred)
	for _, s := range st.GetSubject() {
		if d, ok := s.GetDigest()["sha256"]; ok {
			res.Subjects = append(res.Subjects, Subject{Name: s.GetName(), SHA256: strings.ToLower(d)})
		}
	}

	for _, path := range cfg.artifacts {
		h, _, err := SHA256File(path)
		if err != nil {
			return nil, fmt.Errorf("hash artifact: %w", err)
		}
		s, ok := findSubject(res.Subjects, h)
		if !ok {
			return nil, fmt.Errorf("%w: %s has sha256:%s, which no subject has%s", ErrSubjectNotFound, path, h, nameHint(res.Subjects, filepath.Base(path)))
		}
		res.Matched = append(res.Matched, s)
	}
	for _, d := range cfg.digests {
		h, _ := ParseDigest(d)
		s, ok := findSubject(res.Subjects, h)
		if !ok {
			return nil, fmt.Errorf("%w: no subject has digest %s", ErrSubjectNotFound, d)
		}
		res.Matched = append(res.Matched, s)
	}
	if cfg.builderID != "" && res.BuilderID != cfg.builderID {
		return nil, fmt.Errorf("%w: the provenance says %q, want %q", ErrBuilderMismatch, res.BuilderID, cfg.builderID)
	}
	if cfg.sourceURI != "" && !slices.ContainsFunc(res.Sources, func(s string) bool { return SourceMatches(s, cfg.sourceURI) }) {
		have := "none"
		if len(res.Sources) > 0 {
			have = strings.Join(res.Sources, ", ")
		}
		return nil, fmt.Errorf("%w: want %s, the provenance names %s", ErrSourceMismatch, cfg.sourceURI, have)
	}
	return res, nil
}

// PredicateOf decodes and validates the SLSA provenance v1 predicate of st.
func PredicateOf(st *intoto.Statement) (*slsa.Provenance, error) {
	raw, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, fmt.Errorf("%w: predicate: %v", ErrInvalidStatement, err)
	}
	var pred slsa.Provenance
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, &pred); err != nil {
		return nil, fmt.Errorf("%w: predicate is not SLSA provenance v1: %v", ErrInvalidStatement, err)
	}
	if err := pred.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidStatement, err)
	}
	return &pred, nil
}

// Sources lists the source URIs a provenance names: externalParameters.source
// (a string, or an object with a "uri") and each resolved dependency's URI.
func Sources(p *slsa.Provenance) []string {
	var out []string
	if v, ok := p.GetBuildDefinition().GetExternalParameters().GetFields()["source"]; ok {
		switch k := v.GetKind().(type) {
		case *structpb.Value_StringValue:
			out = append(out, k.StringValue)
		case *structpb.Value_StructValue:
			if u := k.StructValue.GetFields()["uri"].GetStringValue(); u != "" {
				out = append(out, u)
			}
		}
	}
	for _, rd := range p.GetBuildDefinition().GetResolvedDependencies() {
		if u := rd.GetUri(); u != "" && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// SourceMatches reports whether the source URI have satisfies want; see
// [WithSourceURI].
func SourceMatches(have, want string) bool {
	h, hRef := normalizeSource(have)
	w, wRef := normalizeSource(want)
	if h != w {
		return false
	}
	return wRef == "" || hRef == wRef
}

func normalizeSource(u string) (repo, ref string) {
	u = strings.TrimSpace(u)
	u = strings.TrimPrefix(u, "git+")
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	// The ref follows the first "@" in the path; an "@" before the path is
	// a user name (git@host:org/repo).
	if slash := strings.Index(u, "/"); slash >= 0 {
		if at := strings.Index(u[slash:], "@"); at >= 0 {
			u, ref = u[:slash+at], u[slash+at+1:]
		}
	}
	u = strings.TrimSuffix(strings.TrimSuffix(u, "/"), ".git")
	return strings.ToLower(u), ref
}

// ParseDigest parses "sha256:HEX" (or bare 64-digit HEX) and returns the hex
// digest in lower case.
func ParseDigest(s string) (string, error) {
	h := strings.ToLower(strings.TrimSpace(s))
	if alg, rest, ok := strings.Cut(h, ":"); ok {
		if alg != "sha256" {
			return "", fmt.Errorf("%w: %q: only sha256 digests are supported", ErrMalformedDigest, s)
		}
		h = rest
	}
	if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
		return "", fmt.Errorf("%w: %q: want sha256: and 64 hex digits", ErrMalformedDigest, s)
	}
	return h, nil
}

func findSubject(subjects []Subject, h string) (Subject, bool) {
	for _, s := range subjects {
		if s.SHA256 == h {
			return s, true
		}
	}
	return Subject{}, false
}

// nameHint points at a subject with the artifact's name but another digest:
// the usual sign of a modified or rebuilt artifact.
func nameHint(subjects []Subject, name string) string {
	for _, s := range subjects {
		if filepath.Base(s.Name) == name {
			return fmt.Sprintf(" (subject %q has sha256:%s: the artifact was modified or rebuilt)", s.Name, s.SHA256)
		}
	}
	return ""
}
