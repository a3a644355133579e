-- Progress of commissioning uploads (kept across read-model rebuilds).
CREATE TABLE api_commission_uploads (
	msp TEXT NOT NULL,
	id TEXT NOT NULL,
	gtin TEXT NOT NULL,
	lot TEXT NOT NULL,
	expiry TEXT NOT NULL,
	sha256 TEXT NOT NULL,
	total INTEGER NOT NULL,
	batch_size INTEGER NOT NULL,
	batches INTEGER NOT NULL,
	status TEXT NOT NULL,
	code TEXT NOT NULL,
	error TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (msp, id)
);

CREATE TABLE api_commission_batches (
	msp TEXT NOT NULL,
	upload_id TEXT NOT NULL,
	idx INTEGER NOT NULL,
	request_id TEXT NOT NULL,
	first_row INTEGER NOT NULL,
	serials INTEGER NOT NULL,
	status TEXT NOT NULL,
	tx_id TEXT NOT NULL,
	code TEXT NOT NULL,
	message TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (msp, upload_id, idx)
);
