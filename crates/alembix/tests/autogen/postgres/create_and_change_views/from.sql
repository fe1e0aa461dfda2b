CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    status VARCHAR(20) NOT NULL,
    total NUMERIC(10, 2) NOT NULL
);
CREATE VIEW open_orders AS SELECT id, total FROM orders WHERE status = 'open';
