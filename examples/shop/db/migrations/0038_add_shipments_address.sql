-- add shipments address
ALTER TABLE shipments ADD COLUMN address_id bigint REFERENCES addresses(id);
