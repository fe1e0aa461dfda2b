CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    stock INTEGER
);

-- Existing rows: the rebuild must copy them, filling the NULL stock with the new default.
INSERT INTO products (id, name, stock) VALUES (1, 'Keyboard', 12), (2, 'Mouse', NULL);
