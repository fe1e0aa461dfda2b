-- alembix:renamed-from customers
CREATE TABLE clients (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL
);
CREATE INDEX ix_customers_email ON clients (email);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES clients (id) ON DELETE CASCADE
);
