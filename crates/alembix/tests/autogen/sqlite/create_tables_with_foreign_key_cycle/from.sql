CREATE TABLE settings (
    key VARCHAR(50) PRIMARY KEY,
    value TEXT
);
