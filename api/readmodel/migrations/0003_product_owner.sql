-- The product an anomaly is about: the organisation that registered it and
-- the company prefix it was registered under, so that a manufacturer (the
-- marketing-authorisation holder) lists every anomaly about its own
-- products, whoever reported it, and never another manufacturer's.
ALTER TABLE rm_anomalies ADD COLUMN product_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE rm_anomalies ADD COLUMN product_gcp TEXT NOT NULL DEFAULT '';
UPDATE rm_anomalies SET
	product_owner = COALESCE((SELECT p.owner_msp FROM rm_products p WHERE p.gtin = rm_anomalies.gtin), ''),
	product_gcp = COALESCE((SELECT p.company_prefix FROM rm_products p WHERE p.gtin = rm_anomalies.gtin), '')
	WHERE gtin <> '';
CREATE INDEX rm_anomalies_product ON rm_anomalies (product_owner, product_gcp, created_at);
