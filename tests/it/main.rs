//! The integration tests, one binary so that the crate is linked once: each module holds the
//! tests of one area, against the real PostgreSQL and RabbitMQ, and `common` is their harness.

mod common;

mod console_auth;
mod console_dead_letters;
mod console_harness;
mod console_overview;
mod console_pages;
mod console_users;
mod contract;
mod create_session;
mod encodings;
mod events;
mod examples;
mod export;
mod export_stream;
mod export_tools;
mod failover;
mod faults;
mod group_publish;
mod groups;
mod groups_dead_letters;
mod groups_property;
mod hostile;
mod large_messages;
mod openapi;
mod ordering;
mod ordering_histories;
mod ordering_ops;
mod partitions;
mod purge;
mod purge_concurrent;
mod read_api;
mod read_list;
mod readiness;
mod repeated_fields;
mod replica;
mod shard_keys;
mod tools_accounts;
mod tools_cli;
mod tools_dlq;
mod tools_dlq_concurrent;
mod tools_loadgen;
mod tools_replay;
mod wait_stored;
mod write_api;
