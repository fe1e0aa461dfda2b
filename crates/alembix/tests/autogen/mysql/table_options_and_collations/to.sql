-- Engine, default character set and collation of a table (where they differ from the database's), and a
-- column's collation (where it differs from its table's) are part of the schema; they were not read.
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    title VARCHAR(100) NOT NULL,
    body TEXT,
    slug VARCHAR(50) COLLATE utf8mb4_bin
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE codes (
    id INTEGER PRIMARY KEY,
    code VARCHAR(20) COLLATE latin1_bin NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=latin1;
CREATE TABLE archive (
    id INTEGER PRIMARY KEY,
    payload TEXT
) ENGINE=MyISAM;
