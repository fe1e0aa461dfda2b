CREATE TYPE order_status AS ENUM ('pending', 'paid', 'cancelled', 'shipped');
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    status order_status NOT NULL DEFAULT 'pending'
);
INSERT INTO orders (id, status) VALUES (1, 'paid'), (2, 'shipped');
