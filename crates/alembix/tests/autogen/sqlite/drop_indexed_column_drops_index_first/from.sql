CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL,
    nickname VARCHAR(50)
);
CREATE INDEX ix_users_nickname ON users (nickname);
