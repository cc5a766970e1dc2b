-- add customers country
ALTER TABLE customers ADD COLUMN country text NOT NULL DEFAULT 'NL';
