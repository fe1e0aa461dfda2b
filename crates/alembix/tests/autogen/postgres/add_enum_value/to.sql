CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'refunded');
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    status order_status NOT NULL DEFAULT 'pending'
);
