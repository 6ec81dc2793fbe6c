-- A revoked user can no longer sign requests; the row stays, so the name is not reused by
-- accident. During a secret rotation the previous secret keeps working until
-- previous_secret_until, so devices can be moved over without an outage.
ALTER TABLE api_users
    ADD COLUMN revoked_at TIMESTAMPTZ,
    ADD COLUMN previous_secret TEXT,
    ADD COLUMN previous_secret_until TIMESTAMPTZ;
