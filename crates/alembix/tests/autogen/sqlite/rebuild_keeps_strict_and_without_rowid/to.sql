-- A rebuild keeps the table's options (they were lost: the new table was created without STRICT and
-- WITHOUT ROWID), and a change of options is a change (a rebuild).
CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL DEFAULT 0) STRICT, WITHOUT ROWID;
CREATE TABLE events (id INTEGER PRIMARY KEY, payload TEXT) STRICT;
