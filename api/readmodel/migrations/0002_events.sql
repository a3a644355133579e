-- Every applied event as the chaincode emitted it (EPCIS export), in
-- ledger order, and the parties (GLN -> MSP) seen acting or holding packs
-- (EPCIS import resolves a destination GLN through it).
CREATE TABLE rm_events (
	tx_id TEXT PRIMARY KEY,
	pos_block BIGINT NOT NULL,
	pos_index INTEGER NOT NULL,
	event_type TEXT NOT NULL,
	at TEXT NOT NULL,
	doc TEXT NOT NULL
);
CREATE INDEX rm_events_order ON rm_events (pos_block, pos_index);
CREATE INDEX rm_events_at ON rm_events (at);
CREATE INDEX rm_pack_events_tx ON rm_pack_events (tx_id);
CREATE INDEX rm_pack_events_shipment ON rm_pack_events (shipment);

CREATE TABLE rm_parties (
	gln TEXT PRIMARY KEY,
	msp TEXT NOT NULL
);
