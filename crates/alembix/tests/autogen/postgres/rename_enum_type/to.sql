-- An enum type renamed in the models (a new type, the old one dropped): the column is cast through text,
-- as PostgreSQL has no cast from one enum type to another (cannot cast type trialvaluetype to
-- trial_value_type, SQLSTATE 42846).
CREATE TYPE trial_value_type AS ENUM ('FINITE', 'INF_POS', 'INF_NEG');
CREATE TABLE trial_values (id INTEGER PRIMARY KEY, value_type trial_value_type NOT NULL, tags trial_value_type[]);
