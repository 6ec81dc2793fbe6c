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
pub mod file;
pub mod front;
pub mod ordering;
pub mod session;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod tools;
pub mod view;
pub mod wire;

/// glibc malloc took about a sixth of the front's and the consumer's CPU under load, and kept
/// freed peaks as RSS; mimalloc is faster for these many small, short-lived allocations and
/// gives memory back (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
