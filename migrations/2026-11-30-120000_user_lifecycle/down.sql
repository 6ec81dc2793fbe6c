ALTER TABLE api_users
    DROP COLUMN revoked_at,
    DROP COLUMN previous_secret,
    DROP COLUMN previous_secret_until;
