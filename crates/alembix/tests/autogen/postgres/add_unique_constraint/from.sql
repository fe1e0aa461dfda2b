CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    vendor_id INTEGER NOT NULL,
    sku VARCHAR(40) NOT NULL
);
