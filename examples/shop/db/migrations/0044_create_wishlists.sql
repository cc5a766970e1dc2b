-- create wishlists
CREATE TABLE wishlists (
    customer_id bigint NOT NULL REFERENCES customers(id),
    product_id bigint NOT NULL REFERENCES products(id),
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, product_id)
);
