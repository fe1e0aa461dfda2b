CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL,
    display_name TEXT
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    total NUMERIC(10, 2) NOT NULL
);
CREATE INDEX ix_orders_user_id ON orders (user_id);

-- Existing rows: orders must still find their users after the rebuild (PRAGMA foreign_key_check).
INSERT INTO users (id, email, display_name) VALUES (1, 'ada@example.com', 'Ada'), (2, 'bob@example.com', NULL);
INSERT INTO orders (id, user_id, total) VALUES (10, 1, 25.00), (11, 2, 9.90);
