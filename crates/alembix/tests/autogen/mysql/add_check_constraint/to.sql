CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    price DECIMAL(10, 2) NOT NULL,
    discount_price DECIMAL(10, 2),
    CONSTRAINT ck_products_discount CHECK (discount_price IS NULL OR discount_price < price)
);
