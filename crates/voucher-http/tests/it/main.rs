//! The HTTP API through the whole app over a real SQLite file.

// Not every test file uses every helper.
#[allow(dead_code)]
mod support;

mod assets;
mod bad_requests;
mod catalog;
mod checkout;
mod client_side;
mod decode;
mod idempotency;
mod isolation;
mod lists;
mod metrics;
mod openapi;
mod people;
mod rate_limit;
mod smoke;
mod webhooks;
