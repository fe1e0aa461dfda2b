CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    price NUMERIC(10, 2) NOT NULL,
    discount_price NUMERIC(10, 2)
);
