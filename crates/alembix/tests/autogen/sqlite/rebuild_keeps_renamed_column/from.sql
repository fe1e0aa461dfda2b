CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL,
    signup_ip TEXT
);
CREATE INDEX ix_users_signup_ip ON users (signup_ip);
INSERT INTO users (id, email, signup_ip) VALUES (1, 'ada@example.com', '10.0.0.1');
