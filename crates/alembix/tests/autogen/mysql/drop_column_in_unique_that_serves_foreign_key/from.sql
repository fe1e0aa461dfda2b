CREATE TABLE trials (id INTEGER PRIMARY KEY);
CREATE TABLE trial_params (
    id INTEGER PRIMARY KEY,
    trial_id INTEGER NOT NULL,
    `key` VARCHAR(100) NOT NULL,
    CONSTRAINT uq_trial_params UNIQUE (trial_id, `key`),
    CONSTRAINT fk_trial_params_trial FOREIGN KEY (trial_id) REFERENCES trials (id)
);
