-- Read model of the PharmaTrace ledger, fed by chaincode events.
-- Every record table keeps the position (block, index among the chaincode's
-- events of the block) of the event that wrote its current version: an
-- upsert only replaces an older version, so events may be applied twice or
-- out of order and the result is the same. Same SQL on SQLite and PostgreSQL.

CREATE TABLE rm_products (
	gtin TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	owner_msp TEXT NOT NULL,
	company_prefix TEXT NOT NULL,
	created_at TEXT NOT NULL,
	last_tx TEXT NOT NULL,
	pos_block BIGINT NOT NULL,
	pos_index INTEGER NOT NULL,
	doc TEXT NOT NULL
);

CREATE TABLE rm_lots (
	gtin TEXT NOT NULL,
	lot TEXT NOT NULL,
	expiry TEXT NOT NULL,
	status TEXT NOT NULL,
	status_reason TEXT NOT NULL,
	status_changed_at TEXT NOT NULL,
	owner_msp TEXT NOT NULL,
	pack_count INTEGER NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	last_tx TEXT NOT NULL,
	pos_block BIGINT NOT NULL,
	pos_index INTEGER NOT NULL,
	doc TEXT NOT NULL,
	PRIMARY KEY (gtin, lot)
);
CREATE INDEX rm_lots_status ON rm_lots (status);

CREATE TABLE rm_packs (
	gtin TEXT NOT NULL,
	serial TEXT NOT NULL,
	lot TEXT NOT NULL,
	expiry TEXT NOT NULL,
	state TEXT NOT NULL,
	reason TEXT NOT NULL,
	custodian_msp TEXT NOT NULL,
	custodian_gln TEXT NOT NULL,
	shipment TEXT NOT NULL,
	sscc TEXT NOT NULL,
	state_changed_at TEXT NOT NULL,
	last_event TEXT NOT NULL,
	last_tx TEXT NOT NULL,
	commissioned_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	pos_block BIGINT NOT NULL,
	pos_index INTEGER NOT NULL,
	PRIMARY KEY (gtin, serial)
);
CREATE INDEX rm_packs_lot ON rm_packs (gtin, lot, state);
CREATE INDEX rm_packs_state ON rm_packs (state, reason);

-- Chain of custody: one row per committed change of a pack.
CREATE TABLE rm_pack_events (
	gtin TEXT NOT NULL,
	serial TEXT NOT NULL,
	tx_id TEXT NOT NULL,
	lot TEXT NOT NULL,
	pos_block BIGINT NOT NULL,
	pos_index INTEGER NOT NULL,
	event_type TEXT NOT NULL,
	at TEXT NOT NULL,
	actor_msp TEXT NOT NULL,
	actor_role TEXT NOT NULL,
	actor_gln TEXT NOT NULL,
	state TEXT NOT NULL,
	reason TEXT NOT NULL,
	custodian_msp TEXT NOT NULL,
	custodian_gln TEXT NOT NULL,
	shipment TEXT NOT NULL,
	outcome TEXT NOT NULL,
	code TEXT NOT NULL,
	PRIMARY KEY (gtin, serial, tx_id)
);
CREATE INDEX rm_pack_events_order ON rm_pack_events (gtin, serial, pos_block, pos_index);
CREATE INDEX rm_pack_events_lot ON rm_pack_events (gtin, lot, at);

CREATE TABLE rm_shipments (
	id TEXT PRIMARY KEY,
	from_msp TEXT NOT NULL,
	from_gln TEXT NOT NULL,
	to_msp TEXT NOT NULL,
	to_gln TEXT NOT NULL,
	status TEXT NOT NULL,
	pack_count INTEGER NOT NULL,
	received_count INTEGER NOT NULL,
	diverted INTEGER NOT NULL,
	shipped_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	last_tx TEXT NOT NULL,
	pos_block BIGINT NOT NULL,
	pos_index INTEGER NOT NULL,
	doc TEXT NOT NULL
);

CREATE TABLE rm_aggregations (
	sscc TEXT PRIMARY KEY,
	pack_count INTEGER NOT NULL,
	shipment TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	pos_block BIGINT NOT NULL,
	pos_index INTEGER NOT NULL,
	doc TEXT NOT NULL
);

CREATE TABLE rm_anomalies (
	id TEXT PRIMARY KEY,
	code TEXT NOT NULL,
	alert TEXT NOT NULL,
	severity TEXT NOT NULL,
	severity_rank INTEGER NOT NULL,
	classification TEXT NOT NULL,
	status TEXT NOT NULL,
	close_reason TEXT NOT NULL,
	gtin TEXT NOT NULL,
	serial TEXT NOT NULL,
	lot TEXT NOT NULL,
	shipment TEXT NOT NULL,
	site TEXT NOT NULL,
	reported_msp TEXT NOT NULL,
	reported_role TEXT NOT NULL,
	reported_gln TEXT NOT NULL,
	counterpart_msp TEXT NOT NULL,
	counterpart_gln TEXT NOT NULL,
	tx_name TEXT NOT NULL,
	tx_id TEXT NOT NULL,
	message TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	pos_block BIGINT NOT NULL,
	pos_index INTEGER NOT NULL,
	doc TEXT NOT NULL
);
CREATE INDEX rm_anomalies_created ON rm_anomalies (created_at, id);
CREATE INDEX rm_anomalies_status ON rm_anomalies (status, created_at);
CREATE INDEX rm_anomalies_code ON rm_anomalies (code, created_at);
CREATE INDEX rm_anomalies_lot ON rm_anomalies (gtin, lot);
CREATE INDEX rm_anomalies_org ON rm_anomalies (reported_msp, created_at);

-- Workflow steps (creation included); comments are steps to the same status.
CREATE TABLE rm_anomaly_transitions (
	anomaly_id TEXT NOT NULL,
	seq INTEGER NOT NULL,
	from_status TEXT NOT NULL,
	to_status TEXT NOT NULL,
	reason TEXT NOT NULL,
	comment TEXT NOT NULL,
	is_comment INTEGER NOT NULL,
	by_msp TEXT NOT NULL,
	by_role TEXT NOT NULL,
	by_gln TEXT NOT NULL,
	at TEXT NOT NULL,
	tx_id TEXT NOT NULL,
	PRIMARY KEY (anomaly_id, seq)
);

-- Every applied event (idempotency) and the consumer's checkpoint.
CREATE TABLE rm_applied (
	tx_id TEXT PRIMARY KEY,
	pos_block BIGINT NOT NULL,
	pos_index INTEGER NOT NULL,
	event_type TEXT NOT NULL,
	at TEXT NOT NULL
);

CREATE TABLE rm_checkpoint (
	id INTEGER PRIMARY KEY,
	pos_block BIGINT NOT NULL,
	pos_index INTEGER NOT NULL,
	tx_id TEXT NOT NULL,
	event_at TEXT NOT NULL,
	applied_at TEXT NOT NULL
);
INSERT INTO rm_checkpoint (id, pos_block, pos_index, tx_id, event_at, applied_at) VALUES (1, 0, -1, '', '', '');
