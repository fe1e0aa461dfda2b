CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL,
    first_name VARCHAR(50) NOT NULL,
    last_name VARCHAR(50) NOT NULL,
    CONSTRAINT uq_users_email UNIQUE (email)
);
CREATE INDEX ix_users_name ON users (last_name, first_name DESC);
