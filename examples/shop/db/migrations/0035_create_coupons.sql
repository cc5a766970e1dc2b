-- create coupons
CREATE TABLE coupons (
    code text PRIMARY KEY,
    percent_off int NOT NULL CHECK (percent_off BETWEEN 1 AND 100),
    valid_until date
);
