// Package serviceapi is what the HTTP APIs of all T.A.R.S. daemons share:
// who may call them, how a request body is read, what an error answer
// looks like, where the JWT secret comes from and how daemons sign tokens
// for each other. Every daemon under internal/services uses it, so that
// the same request gets the same answer from each; none of them imports
// another daemon's package for any of it.
//
// # Authentication
//
// Callers send dashboard-api's access tokens (JWTs, see internal/auth) as
// "Authorization: Bearer TOKEN". An [Authenticator] verifies the token
// with the secret all daemons share, remembers tokens it has verified (so
// a client that sends the same token on every request pays for the
// signature once; expiry is still checked every time), then asks the
// revocation list ([Revocations]: dashboard-api's state store, or the
// Redis the daemons share) whether a logout revoked it. A revocation list
// that cannot be read refuses the request: fail closed.
//
// [Authenticator.Require] wraps a handler with the least role it needs.
// Every refusal is one of two answers, the same on every daemon:
//
//	401 {"error": "Unauthorized", "message": "Invalid or expired token"}
//	    with WWW-Authenticate: Bearer realm="tars"
//	    (no token, not Bearer, bad signature, alg none, expired, tampered, revoked)
//	403 {"error": "Forbidden", "message": "role viewer may not do this: it needs operator"}
//
// The reason behind a 401 goes to the log (and, through
// [AuthOptions].OnDenied, to dashboard-api's audit log), never to the
// caller. With auth.enabled false every request is an anonymous admin;
// with auth.rbac false any valid token may do everything.
//
// A middleware that already asked the state store about a token hands
// the answer on with [WithCheckedToken]: dashboard-api's rate limiter asks
// for the rate limit and the revocation in one Redis round trip, and
// Require then does not ask again.
//
// # Roles
//
// admin > operator > viewer, in the order of store.Roles; [RoleAtLeast]
// is the one comparison every daemon and command uses. An unknown role
// ranks below every role, so a token with a made-up role is refused, and
// Require refuses to build a route for an unknown role.
//
// # Error answers
//
// Every error a daemon answers is JSON with Content-Type application/json:
// a client.ErrorBody, {"error": the status text, "message": what went
// wrong}, written by [WriteError]. pkg/client parses the same type. A 429
// also carries "retry_after" (seconds, as its Retry-After header).
//
// # Request bodies
//
// [DecodeJSON] reads a body strictly, so that a daemon never acts on a
// request it half understood. In this order:
//
//   - Content-Type must be application/json; parameters are allowed, but
//     a charset must be utf-8. Otherwise 415 Unsupported Media Type: the
//     body is not read.
//   - The body may be at most [MaxBodyBytes] (64 KiB); a larger one is
//     413 Request Entity Too Large (refused from its Content-Length
//     before it is read, or as soon as a chunked one passes the limit).
//   - Everything else is 400 Bad Request: an empty body; a NUL byte
//     anywhere, or a \u0000 escape in a string; bytes that are not UTF-8
//     (encoding/json would quietly replace them); anything but one JSON
//     object; a field the endpoint does not know, at any depth; a value of
//     the wrong type; and anything but whitespace after the object.
//
// All of these answers carry an error body whose message names the
// problem, and the same body on the same endpoint type of every daemon.
// 413 and 415 are errors.Is client.ErrBadRequest in pkg/client, as 400 is.
// [DecodeOptionalJSON] is the variant for an endpoint whose body may be
// left out entirely (dashboard-api's logout): no body at all is accepted,
// any body present follows every rule above.
//
// # Secrets and service tokens
//
// [JWTSecret] finds the shared secret (auth.jwt_secret, auth.jwt_secret_file,
// $TARS_JWT_SECRET, or a generated SECRETS_DIR/jwt_secret on the local
// profile) and registers the previous secrets of a graceful rotation;
// [LoadJWT] adds the signer every daemon verifies with. Daemons call each
// other with [ServiceTokens]: a fresh token per request, subject
// "service:NAME", living [ServiceTokenTTL]. [OpenAuthenticator] builds the
// authenticator of a daemon without a state store of its own, checking
// revocations in Redis when redis.enabled.
//
// # What lives elsewhere
//
// The wire types of the APIs, ErrorBody included, are pkg/client's, so
// that outside programs can use them. Rules about the requests of one
// domain that several daemons check live in a domain package, not in the
// daemon that enforces them: the agent id and hyperparameter validators
// that the orchestrator enforces, HyperSync checks and `tarsctl agents`
// checks are internal/agentspec's.
package serviceapi
