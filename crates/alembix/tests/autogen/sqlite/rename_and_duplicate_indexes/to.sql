-- Indexes are matched one to one: a renamed index is renamed (it was "No changes detected"), and a second
-- index on the same columns as another is created (it never was).
CREATE TABLE trials (id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL, state VARCHAR(20) NOT NULL);
CREATE INDEX ix_trials_study_id ON trials (study_id);
CREATE INDEX ix_trials_state ON trials (state);
CREATE INDEX ix_trials_state_again ON trials (state);
