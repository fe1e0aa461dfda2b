-- The index a foreign key uses is replaced: by a composite index (runs: the server's own index, named after
-- the column because the constraint has none, goes), or by the server's stand-in (members: the unique
-- constraint goes). Each swap happens in one ALTER TABLE, both ways, and leaves no extra index behind
-- (was: ADD INDEX runs_ibfk_1 ... left an index, and the downgrade failed with Duplicate key name).
CREATE TABLE experiments (id INTEGER PRIMARY KEY);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL,
    status VARCHAR(20) NOT NULL,
    FOREIGN KEY (experiment_id) REFERENCES experiments (id)
);
CREATE INDEX ix_runs_experiment_status ON runs (experiment_id, status);
CREATE TABLE teams (id INTEGER PRIMARY KEY);
CREATE TABLE members (
    id INTEGER PRIMARY KEY,
    team_id INTEGER NOT NULL,
    email VARCHAR(100) NOT NULL,
    CONSTRAINT fk_members_team FOREIGN KEY (team_id) REFERENCES teams (id)
);
