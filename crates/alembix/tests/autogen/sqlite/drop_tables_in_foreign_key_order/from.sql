CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    placed_at TIMESTAMP NOT NULL
);
CREATE TABLE order_items (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    sku VARCHAR(40) NOT NULL,
    quantity INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX ix_order_items_order_id ON order_items (order_id);
