DELETE FROM sessions WHERE placeholder;
ALTER TABLE sessions
    DROP COLUMN point_stamps,
    DROP COLUMN field_stamps,
    DROP COLUMN placeholder;
