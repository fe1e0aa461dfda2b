-- Functions are compared as opaque definitions, at the text the server prints back (they were not read:
-- a model's function was never created, and a changed body was not seen).
CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL, updated_at TIMESTAMPTZ);
CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END
$$;
CREATE FUNCTION slugify(title text) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN lower(regexp_replace(title, '[^a-zA-Z0-9]+', '-', 'g'));
CREATE TRIGGER posts_touch BEFORE UPDATE ON posts FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE INDEX ix_posts_slug ON posts (slugify(title));
