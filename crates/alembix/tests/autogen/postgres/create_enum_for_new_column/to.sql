CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped');
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    total NUMERIC(10, 2) NOT NULL,
    status order_status NOT NULL DEFAULT 'pending'
);
