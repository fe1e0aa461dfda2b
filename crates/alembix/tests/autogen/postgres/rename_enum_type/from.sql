CREATE TYPE trialvaluetype AS ENUM ('FINITE', 'INF_POS', 'INF_NEG');
CREATE TABLE trial_values (id INTEGER PRIMARY KEY, value_type trialvaluetype NOT NULL, tags trialvaluetype[]);
