-- create audit log
CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    table_name text NOT NULL,
    row_id bigint,
    action text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
