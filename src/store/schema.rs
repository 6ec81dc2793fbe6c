// @generated automatically by Diesel CLI.

diesel::table! {
    api_users (id) {
        id -> Int8,
        username -> Text,
        api_secret -> Text,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    attachments (project_id, session_id, point) {
        session_id -> Int8,
        point -> Text,
        embedded -> Bool,
        filename -> Nullable<Text>,
        content_type -> Text,
        size -> Int8,
        md5 -> Bytea,
        sha256 -> Bytea,
        bytes -> Bytea,
        project_id -> Int8,
    }
}

diesel::table! {
    console_sessions (token_hash) {
        token_hash -> Bytea,
        user_id -> Int8,
        csrf_token -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    console_users (id) {
        id -> Int8,
        name -> Text,
        password_hash -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    dead_letters (id) {
        id -> Int8,
        dead_letter_id -> Text,
        upload_id -> Nullable<Text>,
        project_id -> Nullable<Int8>,
        session_uuid -> Nullable<Text>,
        reason -> Nullable<Text>,
        headers -> Jsonb,
        properties -> Jsonb,
        body -> Bytea,
        accepted_at -> Nullable<Timestamptz>,
        dead_lettered_at -> Nullable<Timestamptz>,
        collected_at -> Timestamptz,
    }
}

diesel::table! {
    devices (project_id, unit_id) {
        project_id -> Int8,
        unit_id -> Text,
        first_seen -> Timestamptz,
        last_seen -> Timestamptz,
    }
}

diesel::table! {
    project_grants (user_id, project_id) {
        user_id -> Int8,
        project_id -> Int8,
    }
}

diesel::table! {
    projects (id) {
        id -> Int8,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    sessions (project_id, id) {
        id -> Int8,
        project_id -> Int8,
        uuid -> Text,
        unit_id -> Text,
        created -> Timestamptz,
        saved -> Timestamptz,
        received -> Timestamptz,
        received_from -> Text,
        upload_id -> Uuid,
        is_deleted -> Bool,
        points -> Jsonb,
        timezone_offset -> Nullable<Int4>,
        placeholder -> Bool,
        field_stamps -> Jsonb,
        point_stamps -> Jsonb,
        purged_at -> Nullable<Timestamptz>,
        replaced_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(console_sessions -> console_users (user_id));
diesel::joinable!(devices -> projects (project_id));
diesel::joinable!(project_grants -> api_users (user_id));
diesel::joinable!(project_grants -> projects (project_id));
diesel::joinable!(sessions -> projects (project_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_users,
    attachments,
    console_sessions,
    console_users,
    dead_letters,
    devices,
    project_grants,
    projects,
    sessions,
);
