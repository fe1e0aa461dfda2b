-- An index's operator class (for LIKE 'prefix%' on a non-C collation) is part of the index: it was
-- dropped from the generated CREATE INDEX, and a change of it was not seen.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL
);
CREATE INDEX ix_users_email ON users (email text_pattern_ops);
CREATE INDEX ix_users_lower_name ON users ((lower(name)) text_pattern_ops, id);
