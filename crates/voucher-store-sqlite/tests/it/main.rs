//! Integration tests of the SQLite store: a real database file in a
//! temporary directory, driven through the store ports.

mod bulk;
mod catalog;
mod checkout;
mod concurrency;
mod crash;
mod customers;
mod gift;
mod idempotency;
mod maintenance;
mod projects;
mod publications;
mod queries;
mod redemption_log;
mod rules;
mod support;
mod webhooks;
