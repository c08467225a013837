// Package auth issues and checks the dashboard API's credentials: access
// tokens (JWT, HS256), opaque refresh tokens, and TOTP second factors
// (RFC 6238).
//
// # Access tokens
//
// [Issuer] signs short-lived JWTs carrying the username (sub), role and a
// unique jti (so one token can be revoked). [Issuer.Verify] accepts only
// HS256 — never "none" or another algorithm — signed with our secret, not
// expired, and with the expected issuer.
//
// Every token carries a kid header, [KeyID] of the secret that signed it: a
// hash prefix that names the secret without revealing it.
//
// # Graceful rotation
//
// After `tarsctl secrets rotate jwt --grace D` the daemons sign with the new
// secret and verify with it and, until its grace period ends, with the
// previous one ([PreviousKey]). The kid picks the key, so a token is checked
// against one secret only; a kid that names no key in force is refused.
// The daemons load their secret through one function
// (serviceapi.JWTSecret), which registers the previous keys it finds with
// [SetPreviousKeys]; every [NewSigner] for that secret in the process then
// verifies with them, with no change to the daemons that call it.
//
// # Refresh tokens
//
// Refresh tokens are 32 random bytes, base64url. Only their SHA-256
// ([HashToken]) is stored, so a leak of the store does not leak tokens.
package auth
