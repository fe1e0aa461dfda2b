-- DEFERRABLE [INITIALLY DEFERRED] is part of a foreign key or unique constraint (it was not read: the
-- difference was not seen, and a rebuilt constraint lost it).
CREATE TABLE nodes (
    id INTEGER PRIMARY KEY,
    parent_id INTEGER,
    position INTEGER NOT NULL,
    CONSTRAINT fk_nodes_parent FOREIGN KEY (parent_id) REFERENCES nodes (id) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT uq_nodes_position UNIQUE (parent_id, position) DEFERRABLE
);
