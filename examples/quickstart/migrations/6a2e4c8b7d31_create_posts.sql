-- create posts
--
-- Revision ID: 6a2e4c8b7d31
-- Revises: 1f0c3a9d2b10
-- Create Date: 2026-11-22 09:10:00.000000+00:00

-- migrate:up
CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title VARCHAR(200) NOT NULL,
    body TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ix_posts_author_id ON posts (author_id);

-- migrate:down
DROP INDEX ix_posts_author_id;
DROP TABLE posts;
