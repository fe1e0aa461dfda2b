CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    status VARCHAR(20) NOT NULL,
    updated_at TIMESTAMP
);
CREATE TRIGGER trg_orders_touch AFTER UPDATE OF status ON orders
BEGIN
    UPDATE orders SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id;
END;
