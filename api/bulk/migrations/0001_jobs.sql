-- Bulk verify, dispense and decommission requests: the request, each pack
-- with its ledger request ID and outcome (kept across read-model rebuilds).
CREATE TABLE api_bulk_jobs (
	msp TEXT NOT NULL,
	id TEXT NOT NULL,
	op TEXT NOT NULL,
	reason TEXT NOT NULL,
	sha256 TEXT NOT NULL,
	total INTEGER NOT NULL,
	status TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (msp, id)
);

CREATE TABLE api_bulk_items (
	msp TEXT NOT NULL,
	job_id TEXT NOT NULL,
	idx INTEGER NOT NULL,
	gtin TEXT NOT NULL,
	serial TEXT NOT NULL,
	lot TEXT NOT NULL,
	expiry TEXT NOT NULL,
	warnings TEXT NOT NULL,
	request_id TEXT NOT NULL,
	status TEXT NOT NULL,
	code TEXT NOT NULL,
	message TEXT NOT NULL,
	field TEXT NOT NULL,
	tx_id TEXT NOT NULL,
	anomalies TEXT NOT NULL,
	state TEXT NOT NULL,
	reason TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (msp, job_id, idx)
);
CREATE INDEX api_bulk_items_status ON api_bulk_items (msp, job_id, status);
