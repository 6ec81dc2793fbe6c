-- Dead letters, collected from the dead-letter queue by `intake dlq` (docs/TOOLS.md): the
-- tools list, show, requeue and purge from here, because a table can be read by any number
-- of operators (and the console) at once while a queue can only be browsed by taking
-- messages off it.
CREATE TABLE dead_letters (
    id BIGSERIAL PRIMARY KEY,
    -- The consumer's x-intake-dead-letter-id header (else a hash of the message), unique so
    -- a message redelivered after a collect that crashed before its ack is stored once.
    dead_letter_id TEXT NOT NULL UNIQUE,
    upload_id TEXT,
    -- No foreign key: "the project does not exist" is the commonest reason.
    project_id BIGINT,
    session_uuid TEXT,
    reason TEXT,
    -- Every header as text, for people and queries.
    headers JSONB NOT NULL,
    -- The AMQP properties, typed, so a requeue republishes them unchanged.
    properties JSONB NOT NULL,
    body BYTEA NOT NULL,
    -- When the front accepted the upload (the AMQP timestamp).
    accepted_at TIMESTAMPTZ,
    dead_lettered_at TIMESTAMPTZ,
    collected_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX dead_letters_project ON dead_letters (project_id);
