CREATE TABLE experiments (id INTEGER PRIMARY KEY);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL,
    status VARCHAR(20) NOT NULL,
    FOREIGN KEY (experiment_id) REFERENCES experiments (id)
);
CREATE TABLE teams (id INTEGER PRIMARY KEY);
CREATE TABLE members (
    id INTEGER PRIMARY KEY,
    team_id INTEGER NOT NULL,
    email VARCHAR(100) NOT NULL,
    CONSTRAINT uq_members_team_email UNIQUE (team_id, email),
    CONSTRAINT fk_members_team FOREIGN KEY (team_id) REFERENCES teams (id)
);
