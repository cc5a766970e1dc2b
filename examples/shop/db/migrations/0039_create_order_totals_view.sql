-- create order totals view
CREATE VIEW order_totals AS
SELECT o.id, o.customer_id, sum(i.quantity * i.price_cents) AS total_cents
FROM orders o JOIN order_items i ON i.order_id = o.id
GROUP BY o.id;
