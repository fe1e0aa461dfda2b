CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL
);
CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    author_id INTEGER,
    title VARCHAR(200) NOT NULL,
    CONSTRAINT fk_posts_author FOREIGN KEY (author_id) REFERENCES users (id)
);
