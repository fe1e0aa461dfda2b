-- create users
--
-- Revision ID: 1f0c3a9d2b10
-- Revises:
-- Create Date: 2026-11-22 09:00:00.000000+00:00

-- migrate:up
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- migrate:down
DROP TABLE users;
