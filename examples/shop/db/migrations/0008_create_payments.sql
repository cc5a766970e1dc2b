-- create payments
CREATE TABLE payments (
    id bigserial PRIMARY KEY,
    order_id bigint NOT NULL REFERENCES orders(id),
    amount_cents int NOT NULL,
    paid_at timestamptz
);
