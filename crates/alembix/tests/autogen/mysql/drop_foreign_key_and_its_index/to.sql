CREATE TABLE warehouses (
    id INTEGER PRIMARY KEY,
    name VARCHAR(100) NOT NULL
);
CREATE TABLE stock_movements (
    id INTEGER PRIMARY KEY,
    warehouse_id INTEGER NOT NULL,
    quantity INTEGER NOT NULL
);
