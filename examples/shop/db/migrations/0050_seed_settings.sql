-- seed settings
INSERT INTO settings (key, value) VALUES
    ('currency', '"EUR"'),
    ('free_shipping_from_cents', '5000');
