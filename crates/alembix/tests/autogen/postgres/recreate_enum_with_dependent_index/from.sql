CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped');
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    status order_status NOT NULL DEFAULT 'pending',
    CONSTRAINT orders_paid_has_id CHECK (status <> 'paid' OR id > 0)
);
CREATE INDEX ix_orders_pending ON orders (id) WHERE status = 'pending';
CREATE INDEX ix_orders_status ON orders (status);
CREATE VIEW paid_orders AS SELECT id FROM orders WHERE status = 'paid';
