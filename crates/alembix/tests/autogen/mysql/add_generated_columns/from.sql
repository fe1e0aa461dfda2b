CREATE TABLE order_items (
    id INTEGER PRIMARY KEY,
    unit_price DECIMAL(10, 2) NOT NULL,
    quantity INTEGER NOT NULL,
    sku VARCHAR(40) NOT NULL
);
