-- create price history
CREATE TABLE price_history (
    product_id bigint NOT NULL REFERENCES products(id),
    valid_from timestamptz NOT NULL,
    price_cents int NOT NULL,
    PRIMARY KEY (product_id, valid_from)
);
