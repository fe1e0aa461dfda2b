CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL COMMENT 'Login; unique per tenant'
) COMMENT = 'Registered accounts';
