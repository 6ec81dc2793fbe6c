-- Updates, deletes and attachment changes merge into a session field by field, in acceptance
-- order (docs/ORDERING.md). A row's (received, upload_id) stays the stamp of the create it
-- holds; these columns hold the stamps of later writes:
--   field_stamps  {"unit_id" | "created" | "saved" | "is_deleted": [received micros, "upload id"]}
--   point_stamps  {"<point>": [received micros, "upload id"]}  (also for removed points: a
--                 tombstone, so an older write arriving later cannot bring the point back)
-- Both stay '{}' for a session that was only ever created, and a create clears what it
-- supersedes. A write that arrives before its session's create leaves a placeholder row
-- (placeholder = true) that no read shows until the create lands.
ALTER TABLE sessions
    ADD COLUMN placeholder BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN field_stamps JSONB NOT NULL DEFAULT '{}',
    ADD COLUMN point_stamps JSONB NOT NULL DEFAULT '{}';
