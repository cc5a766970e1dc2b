-- index customers lower email
CREATE INDEX customers_lower_email_idx ON customers (lower(email));
