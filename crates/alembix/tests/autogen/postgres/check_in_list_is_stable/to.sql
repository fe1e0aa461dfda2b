CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    stage VARCHAR(20) NOT NULL,
    CONSTRAINT runs_stage CHECK (stage IN ('active', 'deleted'))
);
