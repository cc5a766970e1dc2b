-- index products category id
CREATE INDEX products_category_id_idx ON products (category_id);
