//! intake: ingests form sessions from field devices.
//!
//! `intake-front` decodes and checks uploads and publishes them to RabbitMQ with publisher
//! confirms; `intake-consumer` validates them again and writes them to PostgreSQL in batches,
//! replacing an existing session only with a later-accepted upload.

pub mod auth;
pub mod bench;
pub mod broker;
pub mod cli;
pub mod config;
pub mod consumer;
pub mod decode;
pub mod front;
pub mod session;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod tools;
pub mod view;
pub mod wire;
