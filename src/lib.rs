//! intake: ingests form sessions from field devices.
//!
//! `intake-front` decodes and checks uploads and publishes them to RabbitMQ with publisher
//! confirms; `intake-consumer` validates them again and writes them to PostgreSQL in batches,
//! replacing an existing session only with a later-accepted upload.

pub mod auth;
pub mod broker;
pub mod config;
pub mod consumer;
pub mod decode;
pub mod events;
pub mod export;
pub mod file;
pub mod front;
pub mod ordering;
pub mod service;
pub mod session;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod view;
pub mod wire;
