-- create categories
CREATE TABLE categories (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    parent_id int REFERENCES categories(id)
);
