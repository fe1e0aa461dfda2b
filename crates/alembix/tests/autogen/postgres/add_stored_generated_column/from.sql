CREATE TABLE order_items (
    id INTEGER PRIMARY KEY,
    unit_price NUMERIC(10, 2) NOT NULL,
    quantity INTEGER NOT NULL
);
