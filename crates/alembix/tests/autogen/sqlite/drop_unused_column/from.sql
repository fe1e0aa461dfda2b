CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL,
    legacy_password TEXT
);
CREATE INDEX ix_users_email ON users (email);
