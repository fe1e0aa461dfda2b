CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    status VARCHAR(20) NOT NULL,
    total DECIMAL(10, 2) NOT NULL
);
CREATE VIEW open_orders AS SELECT id, status, total FROM orders WHERE status IN ('open', 'paid');
CREATE VIEW open_order_count AS SELECT count(*) AS n FROM open_orders;
