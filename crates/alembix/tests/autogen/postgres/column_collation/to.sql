-- A column's collation other than its type's default is part of the column.
CREATE TABLE tags (
    id INTEGER PRIMARY KEY,
    slug VARCHAR(50) COLLATE "C" NOT NULL,
    label TEXT,
    code TEXT COLLATE "POSIX"
);
