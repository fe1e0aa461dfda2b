-- Sequences that no column owns are objects of their own (they were not read: created only as a side
-- effect of a default, never dropped, options never compared). serial and identity sequences stay part of
-- their column.
CREATE SEQUENCE ticket_no START 100 INCREMENT 10 CACHE 5;
CREATE SEQUENCE invoice_no AS integer START 1000 MAXVALUE 999999 CYCLE;
CREATE TABLE tickets (id SERIAL PRIMARY KEY, no BIGINT NOT NULL DEFAULT nextval('ticket_no'));
CREATE TABLE notes (id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body TEXT);
CREATE TABLE invoices (id INTEGER PRIMARY KEY, no INTEGER NOT NULL DEFAULT nextval('invoice_no'));
