-- Demo data, baked into the template once: every berth starts with it.
INSERT INTO categories (name, slug) SELECT 'category ' || g, 'category-' || g FROM generate_series(1, 40) g;
INSERT INTO warehouses (code, city, capacity) VALUES ('AMS', 'Amsterdam', 100000), ('BER', 'Berlin', 80000), ('LIS', 'Lisbon', 50000);
INSERT INTO customers (email, name, country)
    SELECT 'customer' || g || '@example.com', 'Customer ' || g, (ARRAY['NL', 'DE', 'PT', 'FR'])[1 + g % 4]
    FROM generate_series(1, 20000) g;
INSERT INTO products (sku, name, category_id, price_cents, description)
    SELECT 'SKU-' || lpad(g::text, 6, '0'), 'Product ' || g, 1 + g % 40, 100 + (g * 37) % 20000, repeat('A fine product. ', 8)
    FROM generate_series(1, 5000) g;
INSERT INTO inventory (product_id, warehouse_id, quantity)
    SELECT p.id, w.id, (p.id * w.id) % 500 FROM products p CROSS JOIN warehouses w;
INSERT INTO orders (customer_id, status, total_cents)
    SELECT 1 + (g * 7) % 20000, (ARRAY['new', 'paid', 'shipped']::order_status[])[1 + g % 3], 0
    FROM generate_series(1, 30000) g;
INSERT INTO order_items (order_id, product_id, quantity, price_cents)
    SELECT o.id, 1 + (o.id * k) % 5000, 1 + k, 999 FROM orders o CROSS JOIN generate_series(1, 3) k
    ON CONFLICT DO NOTHING;
INSERT INTO reviews (product_id, customer_id, rating, body)
    SELECT 1 + g % 5000, 1 + g % 20000, 1 + g % 5, 'Review number ' || g FROM generate_series(1, 20000) g;
ANALYZE;
