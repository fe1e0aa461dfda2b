CREATE TABLE warehouses (
    id INTEGER PRIMARY KEY,
    name VARCHAR(100) NOT NULL
);
CREATE TABLE stock_movements (
    id INTEGER PRIMARY KEY,
    warehouse_id INTEGER NOT NULL,
    quantity INTEGER NOT NULL
);
CREATE TABLE stock_audit (
    id INTEGER PRIMARY KEY,
    movement_id INTEGER NOT NULL,
    logged_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TRIGGER trg_stock_movements_audit AFTER INSERT ON stock_movements
BEGIN
    INSERT INTO stock_audit (movement_id) VALUES (NEW.id);
END;
