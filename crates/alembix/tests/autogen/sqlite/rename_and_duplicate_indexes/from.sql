CREATE TABLE trials (id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL, state VARCHAR(20) NOT NULL);
CREATE INDEX ix_trials_study ON trials (study_id);
CREATE INDEX ix_trials_state ON trials (state);
