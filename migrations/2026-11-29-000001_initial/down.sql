DROP TABLE devices;
DROP TABLE attachments;
DROP TABLE sessions;
DROP TABLE project_grants;
DROP TABLE api_users;
DROP TABLE projects;
