CREATE TABLE order_items (
    id INTEGER PRIMARY KEY,
    sku VARCHAR(40) NOT NULL,
    quantity INTEGER NOT NULL
);
CREATE VIEW bulk_items AS SELECT sku, quantity FROM order_items WHERE quantity >= 10;
