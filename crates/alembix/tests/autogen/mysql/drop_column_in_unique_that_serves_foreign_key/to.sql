-- The unique key that serves the foreign key goes with one of its columns; the down section re-adds the
-- column before the unique key that swaps back in (it re-added the key first: Key column 'key' doesn't
-- exist in table, error 1072).
CREATE TABLE trials (id INTEGER PRIMARY KEY);
CREATE TABLE trial_params (
    id INTEGER PRIMARY KEY,
    trial_id INTEGER NOT NULL,
    CONSTRAINT fk_trial_params_trial FOREIGN KEY (trial_id) REFERENCES trials (id)
);
