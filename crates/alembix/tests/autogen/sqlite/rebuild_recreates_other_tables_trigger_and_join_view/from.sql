CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL,
    order_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    total NUMERIC(10, 2) NOT NULL
);
CREATE TRIGGER trg_orders_count AFTER INSERT ON orders
BEGIN
    UPDATE users SET order_count = order_count + 1 WHERE id = NEW.user_id;
END;
CREATE VIEW user_order_totals AS
    SELECT u.id, u.email, sum(o.total) AS spent FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.id, u.email;
INSERT INTO users (id, email) VALUES (1, 'ada@example.com');
INSERT INTO orders (id, user_id, total) VALUES (1, 1, 12.50);
