-- create order audit trigger
CREATE TRIGGER orders_audit AFTER INSERT OR UPDATE ON orders
FOR EACH ROW EXECUTE FUNCTION audit_order();
