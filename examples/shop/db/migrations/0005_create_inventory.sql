-- create inventory
CREATE TABLE inventory (
    product_id bigint NOT NULL REFERENCES products(id),
    warehouse_id int NOT NULL REFERENCES warehouses(id),
    quantity int NOT NULL DEFAULT 0,
    PRIMARY KEY (product_id, warehouse_id)
);
