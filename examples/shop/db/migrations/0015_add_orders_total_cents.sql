-- add orders total cents
ALTER TABLE orders ADD COLUMN total_cents int NOT NULL DEFAULT 0;
