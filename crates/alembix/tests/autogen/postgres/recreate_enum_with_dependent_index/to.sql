-- Removing an enum value swaps the type under the column; a partial index, a check and a view that compare
-- the column with the old type's values must step aside (PostgreSQL: operator does not exist:
-- order_status = order_status__old).
CREATE TYPE order_status AS ENUM ('pending', 'paid');
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    status order_status NOT NULL DEFAULT 'pending',
    CONSTRAINT orders_paid_has_id CHECK (status <> 'paid' OR id > 0)
);
CREATE INDEX ix_orders_pending ON orders (id) WHERE status = 'pending';
CREATE INDEX ix_orders_status ON orders (status);
CREATE VIEW paid_orders AS SELECT id FROM orders WHERE status = 'paid';
