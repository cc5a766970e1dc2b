-- create order items
CREATE TABLE order_items (
    order_id bigint NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    product_id bigint NOT NULL REFERENCES products(id),
    quantity int NOT NULL CHECK (quantity > 0),
    price_cents int NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
