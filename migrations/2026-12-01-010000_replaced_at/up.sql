-- When a create last replaced a stored session of the same uuid (the receive time of the
-- replacing upload); NULL when the session was never replaced. Operators see it on the
-- console's session page. Two creates of one new uuid in one consumer batch store only the
-- newer, so that case is not marked.
ALTER TABLE sessions ADD COLUMN replaced_at TIMESTAMPTZ;
