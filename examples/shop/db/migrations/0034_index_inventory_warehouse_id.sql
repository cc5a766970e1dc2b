-- index inventory warehouse id
CREATE INDEX inventory_warehouse_id_idx ON inventory (warehouse_id);
