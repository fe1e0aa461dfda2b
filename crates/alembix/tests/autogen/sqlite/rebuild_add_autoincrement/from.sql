CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    action VARCHAR(50) NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

INSERT INTO audit_log (id, action) VALUES (1, 'login'), (2, 'logout');
