-- add payments method
ALTER TABLE payments ADD COLUMN method text NOT NULL DEFAULT 'card';
