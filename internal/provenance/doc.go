// Package provenance builds SLSA provenance v1: an in-toto Statement v1
// (https://in-toto.io/Statement/v1) whose subjects are release artifacts with
// their SHA-256 digests and whose predicate (https://slsa.dev/provenance/v1)
// says which builder built them from which source. It signs the statement
// into a DSSE envelope. Verification lives in
// [github.com/tars-ops/tarsctl/pkg/verify].
//
// # Types and serialisation
//
// The statement and predicate are the in-toto attestation protobuf types,
// checked with their Validate methods and serialised with protojson (their
// field names, such as "_type" and "predicateType", come from the proto
// definitions; encoding/json would get them wrong). protojson deliberately
// varies its whitespace between builds, so [Marshal] re-indents its output:
// the same statement always gives the same bytes.
//
// # Build type
//
// [BuildType] documents externalParameters: "source" (the repository URI),
// "ref", "entryPoint" (the workflow or pipeline file), "ci" ("github-actions",
// "gitlab-ci" or "local") and "artifacts" (the subjects' names). The resolved
// dependencies hold the source at its commit, {"uri": "git+URL@REF",
// "digest": {"gitCommit": SHA}}.
//
// # Where the facts come from
//
// [DetectCI] reads the variables GitHub Actions and GitLab CI set; [GitSource]
// reads a local checkout's .git directory without running git. Flags override
// both. Nothing here touches the network.
package provenance
