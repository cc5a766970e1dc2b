-- add reviews created at
ALTER TABLE reviews ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
