-- add shipments tracking code
ALTER TABLE shipments ADD COLUMN tracking_code text;
