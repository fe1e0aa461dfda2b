CREATE TABLE orders (
    id integer PRIMARY KEY,
    status varchar(20) NOT NULL,
    total numeric(10, 2) NOT NULL
);

CREATE VIEW open_orders AS
    SELECT id, status, total FROM orders WHERE status IN ('open', 'paid');
