-- create shipments
CREATE TABLE shipments (
    id bigserial PRIMARY KEY,
    order_id bigint NOT NULL REFERENCES orders(id),
    warehouse_id int REFERENCES warehouses(id),
    shipped_at timestamptz
);
