-- Users and agents. Portable SQL: SQLite and PostgreSQL run it as it is.
-- Timestamps are UTC (see the package documentation); roles are checked by
-- the Go code, so that a new role needs no table rebuild on SQLite.

CREATE TABLE users (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    totp_secret   TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

CREATE TABLE agents (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    type       TEXT NOT NULL,
    status     TEXT NOT NULL,
    episodes   BIGINT NOT NULL DEFAULT 0,
    reward     DOUBLE PRECISION NOT NULL DEFAULT 0,
    updated_at TIMESTAMP NOT NULL
);
