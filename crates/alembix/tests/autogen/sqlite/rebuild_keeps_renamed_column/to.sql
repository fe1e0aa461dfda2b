CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL,
    -- alembix:renamed-from signup_ip
    registration_ip VARCHAR(45) NOT NULL DEFAULT ''
);
CREATE INDEX ix_users_signup_ip ON users (registration_ip);
