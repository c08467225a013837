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
// # Refresh tokens
//
// Refresh tokens are 32 random bytes, base64url. Only their SHA-256
// ([HashToken]) is stored, so a leak of the store does not leak tokens.
package auth
