CREATE TABLE order_items (
    id INTEGER PRIMARY KEY,
    unit_price DECIMAL(10, 2) NOT NULL,
    quantity INTEGER NOT NULL,
    sku VARCHAR(40) NOT NULL,
    line_total DECIMAL(12, 2) GENERATED ALWAYS AS (unit_price * quantity) STORED,
    sku_upper VARCHAR(40) GENERATED ALWAYS AS (upper(sku)) VIRTUAL
);
