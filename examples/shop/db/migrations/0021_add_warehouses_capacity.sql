-- add warehouses capacity
ALTER TABLE warehouses ADD COLUMN capacity int;
