-- Every key of the session data leads with project_id, the shard key (docs/SCALING.md): a
-- session and its attachments then always live in the same partition (or shard), and every
-- statement names the one partition it touches. Rewritten in place: the attachments learn
-- their session's project, then the keys are swapped; no row is copied or lost.
ALTER TABLE attachments ADD COLUMN project_id BIGINT;

UPDATE attachments AS a SET project_id = s.project_id FROM sessions AS s WHERE s.id = a.session_id;

ALTER TABLE attachments
    ALTER COLUMN project_id SET NOT NULL,
    DROP CONSTRAINT attachments_session_id_fkey,
    DROP CONSTRAINT attachments_pkey;

-- id stays the row's identity (list cursors and attachments name it); (project_id, uuid)
-- stays unique, for the conditional upsert.
ALTER TABLE sessions
    DROP CONSTRAINT sessions_pkey,
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (project_id, id);

ALTER TABLE attachments
    ADD CONSTRAINT attachments_pkey PRIMARY KEY (project_id, session_id, point),
    ADD CONSTRAINT attachments_session_fkey FOREIGN KEY (project_id, session_id)
        REFERENCES sessions (project_id, id) ON DELETE CASCADE;
