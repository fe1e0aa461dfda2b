-- A table-level CHECK named like a column (SQLAlchemy's CheckConstraint(..., name="source_type")) stays a
-- table-level CHECK: MariaDB's information_schema reports LEVEL = Table for it, Column for an inline one.
CREATE TABLE inputs (
    id INTEGER PRIMARY KEY,
    source_type VARCHAR(20) NOT NULL,
    source_id VARCHAR(36) NOT NULL CHECK (char_length(source_id) > 0),
    CONSTRAINT source_type CHECK (source_type IN ('DATASET', 'RUN_OUTPUT'))
);
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    kind VARCHAR(10) NOT NULL,
    CONSTRAINT kind CHECK (kind IN ('a', 'b'))
);
