-- `intake purge` hard-deletes a session's data but leaves its row as a tombstone
-- (purged_at set): no points, no attachments, and as its create stamp the newest stamp the
-- session held, so an upload accepted before the purge that arrives again (a redelivery, a
-- replay) is older and changes nothing, while a create accepted later brings the session
-- back (docs/ORDERING.md). Reads never show tombstones.
ALTER TABLE sessions ADD COLUMN purged_at TIMESTAMPTZ;

-- `intake purge --tombstones-before` finds a project's tombstones by age.
CREATE INDEX sessions_purged ON sessions (project_id, purged_at) WHERE purged_at IS NOT NULL;

-- `intake purge --deleted` walks a project's soft-deleted sessions by id, few among many.
CREATE INDEX sessions_deleted ON sessions (project_id, id) WHERE is_deleted AND purged_at IS NULL;
