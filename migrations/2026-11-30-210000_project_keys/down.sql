-- Back to keys by session id alone. Only for an unpartitioned database: a partitioned table's
-- keys must hold project_id, so `intake migrate --partitions` cannot be undone this way.
ALTER TABLE attachments
    DROP CONSTRAINT attachments_session_fkey,
    DROP CONSTRAINT attachments_pkey;

ALTER TABLE sessions
    DROP CONSTRAINT sessions_pkey,
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);

ALTER TABLE attachments
    ADD CONSTRAINT attachments_pkey PRIMARY KEY (session_id, point),
    ADD CONSTRAINT attachments_session_id_fkey FOREIGN KEY (session_id)
        REFERENCES sessions (id) ON DELETE CASCADE,
    DROP COLUMN project_id;
