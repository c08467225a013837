package provenance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	slsa1 "github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// PredicateType is the SLSA provenance v1 predicate type, as in-toto-golang
// defines it.
const PredicateType = slsa1.PredicateSLSAProvenance

// PayloadType is the DSSE payload type of an in-toto statement.
const PayloadType = verify.PayloadTypeInToto

// BuildType identifies tarsctl's externalParameters (see the package doc and
// docs/slsa.md).
const BuildType = "https://github.com/tars-ops/tarsctl/blob/main/docs/slsa.md#build-type-v1"

// LocalBuilderID is the builder id when neither CI nor a flag names one.
const LocalBuilderID = "urn:tarsctl:builder:local"

// Source is the source tree an artifact was built from.
type Source struct {
	// URI is the repository, "git+https://host/org/repo" or as given.
	URI string `json:"uri,omitempty"`
	// Ref is the branch or tag, "refs/heads/main".
	Ref string `json:"ref,omitempty"`
	// Commit is the git commit SHA.
	Commit string `json:"commit,omitempty"`
}

// Options describe one provenance statement.
type Options struct {
	// Artifacts are the files to describe. Subjects, when set, are used
	// instead of hashing Artifacts again (release preparation hashes once).
	Artifacts []string
	Subjects  []verify.Subject

	BuilderID      string
	BuilderVersion map[string]string
	InvocationID   string
	CI             string // "github-actions", "gitlab-ci" or "local"
	EntryPoint     string
	Source         Source
	StartedOn      time.Time
	// FinishedOn defaults to Now() after hashing.
	FinishedOn time.Time
	Now        func() time.Time
}

// HashFiles returns the SHA-256 subjects of paths, named by base name, in
// the order given. Files are hashed concurrently, each in one streaming
// pass with a large buffer.
func HashFiles(ctx context.Context, paths []string) ([]verify.Subject, error) {
	out := make([]verify.Subject, len(paths))
	errs := make([]error, len(paths))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := ctx.Err(); err != nil {
				errs[i] = err
				return
			}
			fi, err := os.Stat(p)
			if err == nil && fi.IsDir() {
				err = fmt.Errorf("%s is a directory; provenance describes files", p)
			}
			if err != nil {
				errs[i] = fmt.Errorf("artifact: %w", err)
				return
			}
			h, _, err := verify.SHA256File(p)
			if err != nil {
				errs[i] = fmt.Errorf("hash artifact: %w", err)
				return
			}
			out[i] = verify.Subject{Name: filepath.Base(p), SHA256: h}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Generate builds and validates the provenance statement.
func Generate(ctx context.Context, opts Options) (*intoto.Statement, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	subjects := opts.Subjects
	if subjects == nil {
		if len(opts.Artifacts) == 0 {
			return nil, errors.New("no artifacts to describe")
		}
		var err error
		if subjects, err = HashFiles(ctx, opts.Artifacts); err != nil {
			return nil, err
		}
	}
	finished := opts.FinishedOn
	if finished.IsZero() {
		finished = now()
	}
	builderID := opts.BuilderID
	if builderID == "" {
		builderID = LocalBuilderID
	}
	ci := opts.CI
	if ci == "" {
		ci = "local"
	}

	names := make([]any, 0, len(subjects))
	st := &intoto.Statement{Type: intoto.StatementTypeUri, PredicateType: PredicateType}
	for _, s := range subjects {
		names = append(names, s.Name)
		st.Subject = append(st.Subject, &intoto.ResourceDescriptor{Name: s.Name, Digest: map[string]string{"sha256": s.SHA256}})
	}
	ext := map[string]any{"ci": ci, "artifacts": names}
	if opts.Source.URI != "" {
		ext["source"] = opts.Source.URI
	}
	if opts.Source.Ref != "" {
		ext["ref"] = opts.Source.Ref
	}
	if opts.EntryPoint != "" {
		ext["entryPoint"] = opts.EntryPoint
	}
	extStruct, err := structpb.NewStruct(ext)
	if err != nil {
		return nil, fmt.Errorf("external parameters: %w", err)
	}
	pred := &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{BuildType: BuildType, ExternalParameters: extStruct},
		RunDetails: &slsa.RunDetails{
			Builder:  &slsa.Builder{Id: builderID, Version: opts.BuilderVersion},
			Metadata: &slsa.BuildMetadata{InvocationId: opts.InvocationID},
		},
	}
	if !opts.StartedOn.IsZero() {
		pred.RunDetails.Metadata.StartedOn = timestamppb.New(opts.StartedOn.UTC())
	}
	pred.RunDetails.Metadata.FinishedOn = timestamppb.New(finished.UTC())
	if opts.Source.URI != "" && opts.Source.Commit != "" {
		uri := opts.Source.URI
		if opts.Source.Ref != "" {
			uri += "@" + opts.Source.Ref
		}
		pred.BuildDefinition.ResolvedDependencies = []*intoto.ResourceDescriptor{{
			Uri:    uri,
			Digest: map[string]string{commitAlgorithm(opts.Source.Commit): opts.Source.Commit},
		}}
	}
	if err := pred.Validate(); err != nil {
		return nil, fmt.Errorf("invalid provenance: %w", err)
	}
	predJSON, err := protojson.Marshal(pred)
	if err != nil {
		return nil, err
	}
	st.Predicate = &structpb.Struct{}
	if err := protojson.Unmarshal(predJSON, st.Predicate); err != nil {
		return nil, err
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("invalid statement: %w", err)
	}
	return st, nil
}

// commitAlgorithm names the digest of a git commit id: "gitCommit" for
// SHA-1 repositories, "sha256" for the 64-digit ids of SHA-256 ones (the
// in-toto validator requires gitCommit to be 20 bytes).
func commitAlgorithm(commit string) string {
	if len(commit) == 64 {
		return "sha256"
	}
	return "gitCommit"
}

// Marshal serialises st with protojson, indented by two spaces, with stable
// bytes for the same statement. With indent false the JSON is compact.
func Marshal(st *intoto.Statement, indent bool) ([]byte, error) {
	raw, err := protojson.MarshalOptions{UseProtoNames: false}.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("marshal statement: %w", err)
	}
	var buf bytes.Buffer
	if indent {
		err = json.Indent(&buf, raw, "", "  ")
		buf.WriteByte('\n')
	} else {
		err = json.Compact(&buf, raw)
	}
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Sign wraps the statement in a DSSE envelope signed by key over the
// pre-authentication encoding of its compact JSON, and returns the envelope
// as indented JSON.
func Sign(ctx context.Context, st *intoto.Statement, key *signing.Key) ([]byte, error) {
	payload, err := Marshal(st, false)
	if err != nil {
		return nil, err
	}
	es, err := dsse.NewEnvelopeSigner(key.DSSE())
	if err != nil {
		return nil, err
	}
	env, err := es.SignPayload(ctx, PayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign provenance: %w", err)
	}
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// SubjectsOf returns st's SHA-256 subjects.
func SubjectsOf(st *intoto.Statement) []verify.Subject {
	var out []verify.Subject
	for _, s := range st.GetSubject() {
		if d, ok := s.GetDigest()["sha256"]; ok {
			out = append(out, verify.Subject{Name: s.GetName(), SHA256: d})
		}
	}
	return slices.Clip(out)
}
