-- add shipments carrier
ALTER TABLE shipments ADD COLUMN carrier text;
