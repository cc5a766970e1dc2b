-- index payments order id
CREATE INDEX payments_order_id_idx ON payments (order_id);
