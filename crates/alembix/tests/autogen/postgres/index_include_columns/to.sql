CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL,
    status VARCHAR(20) NOT NULL,
    started_at TIMESTAMPTZ,
    name TEXT
);
CREATE INDEX ix_runs_experiment ON runs (experiment_id, status) INCLUDE (started_at, name) WHERE status <> 'deleted';
