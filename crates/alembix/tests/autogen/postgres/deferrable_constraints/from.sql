CREATE TABLE nodes (
    id INTEGER PRIMARY KEY,
    parent_id INTEGER,
    position INTEGER NOT NULL,
    CONSTRAINT fk_nodes_parent FOREIGN KEY (parent_id) REFERENCES nodes (id),
    CONSTRAINT uq_nodes_position UNIQUE (parent_id, position)
);
