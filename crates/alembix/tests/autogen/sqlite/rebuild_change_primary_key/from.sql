CREATE TABLE user_roles (
    user_id INTEGER NOT NULL,
    role VARCHAR(30) NOT NULL,
    granted_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (user_id)
);

INSERT INTO user_roles (user_id, role) VALUES (1, 'admin'), (2, 'editor');
