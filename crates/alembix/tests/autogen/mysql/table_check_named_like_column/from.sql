CREATE TABLE inputs (
    id INTEGER PRIMARY KEY,
    source_type VARCHAR(20) NOT NULL,
    source_id VARCHAR(36) NOT NULL
);
