CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    -- alembix:renamed-from name
    full_name VARCHAR(100) NOT NULL
);
CREATE INDEX ix_users_name ON users (full_name);
