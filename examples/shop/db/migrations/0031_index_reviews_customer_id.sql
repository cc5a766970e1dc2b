-- index reviews customer id
CREATE INDEX reviews_customer_id_idx ON reviews (customer_id);
