-- add products description
ALTER TABLE products ADD COLUMN description text;
