-- Alert subscriptions (webhooks) and their durable delivery queue, in the
-- API's database; kept across read-model rebuilds.
CREATE TABLE api_alert_subscriptions (
	id TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	msp TEXT NOT NULL,
	role TEXT NOT NULL,
	gln TEXT NOT NULL,
	gcps TEXT NOT NULL,
	url TEXT NOT NULL,
	description TEXT NOT NULL,
	secret TEXT NOT NULL,
	from_block BIGINT NOT NULL,
	from_index INTEGER NOT NULL,
	deleted INTEGER NOT NULL,
	created_at TEXT NOT NULL
);
CREATE INDEX api_alert_subscriptions_owner ON api_alert_subscriptions (owner, deleted);

-- One row per anomaly per subscription (a replay of the ledger never
-- queues it twice); status pending until delivered, or failed after the
-- last attempt.
CREATE TABLE api_alert_deliveries (
	id TEXT PRIMARY KEY,
	subscription_id TEXT NOT NULL,
	anomaly_id TEXT NOT NULL,
	event TEXT NOT NULL,
	body TEXT NOT NULL,
	status TEXT NOT NULL,
	attempts INTEGER NOT NULL,
	next_at TEXT NOT NULL,
	last_status INTEGER NOT NULL,
	last_error TEXT NOT NULL,
	created_at TEXT NOT NULL,
	delivered_at TEXT NOT NULL,
	UNIQUE (subscription_id, anomaly_id)
);
CREATE INDEX api_alert_deliveries_due ON api_alert_deliveries (status, next_at);
CREATE INDEX api_alert_deliveries_sub ON api_alert_deliveries (subscription_id, created_at);

CREATE TABLE api_alert_attempts (
	delivery_id TEXT NOT NULL,
	n INTEGER NOT NULL,
	at TEXT NOT NULL,
	status_code INTEGER NOT NULL,
	error TEXT NOT NULL,
	duration_ms INTEGER NOT NULL,
	PRIMARY KEY (delivery_id, n)
);
