CREATE TABLE user_roles (
    user_id INTEGER NOT NULL,
    role VARCHAR(30) NOT NULL,
    granted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT user_roles_pkey PRIMARY KEY (user_id, role)
);
