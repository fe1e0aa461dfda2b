CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    total TEXT NOT NULL,
    updated_at TIMESTAMP
);
CREATE INDEX ix_orders_user_id ON orders (user_id);
CREATE TRIGGER trg_orders_touch AFTER UPDATE OF total ON orders
BEGIN
    UPDATE orders SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id;
END;
CREATE VIEW order_totals AS SELECT user_id, sum(total) AS spent FROM orders GROUP BY user_id;

INSERT INTO orders (id, user_id, total) VALUES (1, 7, '19.99'), (2, 7, '5.01');
