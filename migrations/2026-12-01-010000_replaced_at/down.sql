ALTER TABLE sessions DROP COLUMN replaced_at;
