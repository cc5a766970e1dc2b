-- add categories slug
ALTER TABLE categories ADD COLUMN slug text;
