-- create warehouses
CREATE TABLE warehouses (
    id serial PRIMARY KEY,
    code text NOT NULL UNIQUE,
    city text NOT NULL
);
