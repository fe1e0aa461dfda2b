CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL,
    country CHAR(2)
);
CREATE UNIQUE INDEX uq_users_email ON users (email);
CREATE INDEX ix_users_country ON users (country) WHERE country IS NOT NULL;
