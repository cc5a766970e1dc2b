-- index shipments order id
CREATE INDEX shipments_order_id_idx ON shipments (order_id);
