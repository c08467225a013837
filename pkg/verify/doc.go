// Package verify checks what tarsctl signs: detached signatures of files
// (SBOMs, SHA256SUMS) and SLSA provenance in DSSE envelopes. It is the
// public, offline half of tarsctl's supply-chain commands, so other Go
// programs can verify a tarsctl release without the CLI. It never touches
// the network and never prints.
//
// # Keys
//
// Public keys are PEM files: PKIX ("PUBLIC KEY", what `openssl rsa -pubout`
// and `openssl pkey -pubout` write) or PKCS#1 ("RSA PUBLIC KEY"). RSA keys
// of at least 2048 bits and ECDSA P-256 keys are accepted; [ParsePublicKey]
// rejects anything else with [ErrUnsupportedKey]. A key is named by
// [KeyID], the OpenSSH SHA-256 fingerprint ("SHA256:…"), which is also what
// DSSE verifiers such as cosign compute when they are given a bare key.
//
// # Signatures
//
// An RSA signature is RSASSA-PSS with SHA-256 and MGF1-SHA-256. tarsctl signs
// with a 32-byte salt; [Signature] accepts any salt length, because OpenSSL
// signs with the longest salt by default. An ECDSA signature is ASN.1 DER over
// SHA-256. A detached signature is the raw signature bytes in FILE.sig, so
//
//	openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-2 \
//	  -verify pub.pem -signature FILE.sig FILE
//
// checks the same thing as [File].
//
// # Errors
//
// Every way verification can fail has its own sentinel error, and all of them
// match [ErrVerificationFailed] with errors.Is, so a caller can tell "this
// does not verify" (a tampered file, a wrong key, a policy mismatch) from
// "this could not be checked" (a missing file, a malformed key or envelope).
// For RSA-PSS the cause is told apart exactly: a signature that decodes
// correctly under the key but covers other bytes means the content was
// altered ([ErrContentAltered]); one that does not decode is corrupt or was
// made by another key ([ErrBadSignature]).
package verify
