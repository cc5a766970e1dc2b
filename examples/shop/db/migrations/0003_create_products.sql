-- create products
CREATE TABLE products (
    id bigserial PRIMARY KEY,
    sku text NOT NULL UNIQUE,
    name text NOT NULL,
    category_id int REFERENCES categories(id),
    price_cents int NOT NULL CHECK (price_cents >= 0)
);
