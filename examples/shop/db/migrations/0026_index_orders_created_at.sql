-- index orders created at
CREATE INDEX orders_created_at_idx ON orders (created_at);
