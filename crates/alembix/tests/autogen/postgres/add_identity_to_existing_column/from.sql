CREATE TABLE audit_log (
    id BIGINT PRIMARY KEY,
    action VARCHAR(50) NOT NULL
);
