-- add phone to users
--
-- Revision ID: 9b5d0e1f3c42
-- Revises: 6a2e4c8b7d31
-- Create Date: 2026-11-22 09:20:00.000000+00:00

-- migrate:up
ALTER TABLE users ADD COLUMN phone_number VARCHAR(32);

-- migrate:down
ALTER TABLE users DROP COLUMN phone_number;
