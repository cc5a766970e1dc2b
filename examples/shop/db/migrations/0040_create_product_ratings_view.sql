-- create product ratings view
CREATE VIEW product_ratings AS
SELECT product_id, avg(rating)::numeric(3,2) AS rating, count(*) AS reviews
FROM reviews GROUP BY product_id;
