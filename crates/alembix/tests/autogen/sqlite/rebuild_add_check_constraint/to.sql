CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    price NUMERIC(10, 2) NOT NULL,
    CONSTRAINT ck_products_price_positive CHECK (price > 0)
);
CREATE INDEX ix_products_name ON products (name);
