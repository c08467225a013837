package verify

import "errors"

// ErrVerificationFailed matches, with errors.Is, every error that means "this
// does not verify", as opposed to "this could not be checked".
var ErrVerificationFailed = errors.New("verification failed")

// failure is a sentinel that also matches [ErrVerificationFailed].
type failure string

func (f failure) Error() string { return string(f) }

func (f failure) Is(target error) bool { return target == ErrVerificationFailed }

// Verification failures. Each names one cause; see [ErrVerificationFailed].
var (
	// ErrBadSignature: the signature does not decode under the key: its bytes
	// were altered, or it was made with another key.
	ErrBadSignature error = failure("signature is corrupt or was made with a different key")
	// ErrContentAltered: the signature was made by this key, but over
	// different bytes: the signed content was altered after signing.
	ErrContentAltered error = failure("content was altered after it was signed")
	// ErrWrongKey: the envelope names the key it was signed with, and the
	// key given is a different one.
	ErrWrongKey error = failure("signed with a different key")
	// ErrNoSignature: an envelope without signatures.
	ErrNoSignature error = failure("envelope has no signatures")
	// ErrPayloadType: the envelope does not carry an in-toto statement.
	ErrPayloadType error = failure("unexpected payload type")
	// ErrStatementType: the payload is not an in-toto Statement v1.
	ErrStatementType error = failure("unexpected statement type")
	// ErrPredicateType: the statement is not SLSA provenance v1.
	ErrPredicateType error = failure("unexpected predicate type")
	// ErrInvalidStatement: the statement or its predicate breaks the in-toto
	// or SLSA rules (no subject, no builder id, a malformed digest, …).
	ErrInvalidStatement error = failure("invalid provenance statement")
	// ErrSubjectNotFound: an artifact's digest is not among the subjects.
	ErrSubjectNotFound error = failure("artifact is not a subject of the provenance")
	// ErrBuilderMismatch: the builder id differs from the expected one.
	ErrBuilderMismatch error = failure("builder id does not match")
	// ErrSourceMismatch: no source in the provenance matches the expected one.
	ErrSourceMismatch error = failure("source does not match")
)

// Errors for input that cannot be checked at all.
var (
	// ErrUnsupportedKey: the PEM block holds a key type or size tarsctl
	// does not sign or verify with.
	ErrUnsupportedKey = errors.New("unsupported key")
	// ErrMalformedKey: not a PEM public key.
	ErrMalformedKey = errors.New("malformed public key")
	// ErrMalformedEnvelope: not a DSSE envelope.
	ErrMalformedEnvelope = errors.New("malformed DSSE envelope")
	// ErrMalformedDigest: a digest that is not "sha256:" and 64 hex digits.
	ErrMalformedDigest = errors.New("malformed digest")
)
