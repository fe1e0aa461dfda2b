CREATE TABLE settings (
    name VARCHAR(50) PRIMARY KEY,
    value TEXT
);
