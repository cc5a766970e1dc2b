-- create addresses
CREATE TABLE addresses (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers(id),
    line1 text NOT NULL,
    city text NOT NULL,
    postcode text NOT NULL
);
