-- add customers phone
ALTER TABLE customers ADD COLUMN phone text;
