-- API bearer tokens: only the SHA-256 of a token is stored.
CREATE TABLE api_tokens (
	id TEXT PRIMARY KEY,
	hash TEXT NOT NULL UNIQUE,
	org TEXT NOT NULL,
	msp TEXT NOT NULL,
	username TEXT NOT NULL,
	role TEXT NOT NULL,
	gln TEXT NOT NULL,
	gcp TEXT NOT NULL,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL,
	revoked_at TEXT NOT NULL
);
CREATE INDEX api_tokens_user ON api_tokens (org, username);
