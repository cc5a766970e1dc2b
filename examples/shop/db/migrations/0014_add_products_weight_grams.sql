-- add products weight grams
ALTER TABLE products ADD COLUMN weight_grams int;
