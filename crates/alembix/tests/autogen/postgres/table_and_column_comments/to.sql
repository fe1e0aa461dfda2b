CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL
);
COMMENT ON TABLE users IS 'Registered accounts';
COMMENT ON COLUMN users.email IS 'Login; it''s unique per tenant';
