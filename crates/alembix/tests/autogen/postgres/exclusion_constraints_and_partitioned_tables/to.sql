-- Exclusion constraints were not read (check did not see them, and a new table lost them), and a new
-- partitioned table was created without its PARTITION BY.
CREATE TABLE bookings (
    id INTEGER PRIMARY KEY,
    room INTEGER NOT NULL,
    during TSRANGE NOT NULL,
    CONSTRAINT bookings_no_overlap EXCLUDE USING gist (during WITH &&)
);
CREATE TABLE events (id BIGINT NOT NULL, created_at DATE NOT NULL, PRIMARY KEY (id, created_at))
    PARTITION BY RANGE (created_at);
CREATE TABLE logs (
    id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (id, kind)
) PARTITION BY LIST (kind);
