-- Without the column a tombstone would read as an empty soft-deleted session.
DELETE FROM sessions WHERE purged_at IS NOT NULL;
DROP INDEX sessions_deleted;
DROP INDEX sessions_purged;
ALTER TABLE sessions DROP COLUMN purged_at;
