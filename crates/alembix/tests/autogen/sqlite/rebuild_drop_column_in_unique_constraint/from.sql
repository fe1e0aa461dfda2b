CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    sku VARCHAR(40) NOT NULL,
    name VARCHAR(100) NOT NULL,
    UNIQUE (sku)
);
CREATE INDEX ix_products_name ON products (name);
