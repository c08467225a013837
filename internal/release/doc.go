// Package release prepares a release directory: the artifacts, their SBOMs
// (internal/sbom), SLSA provenance (internal/provenance), detached
// signatures and a SHA256SUMS file, then verifies all of it as a consumer
// would before [Prepare] returns. `tarsctl release prepare` is its command;
// docs/release.md describes the layout.
//
// # One read per artifact
//
// Each artifact is hard-linked into the directory (copied when that is not
// possible) and hashed in the same pass; that digest goes into SHA256SUMS
// and into the provenance subjects.
//
// # Errors
//
// Bad inputs wrap [ErrExists], [ErrNotFile] or [ErrDuplicateName]; a
// release that was written but does not verify wraps [ErrNotVerified] and
// names the file. Anything else is an error of reading, writing, signing or
// cataloguing, wrapped with what was being done.
package release
