//! The HTTP API through the whole app over a real SQLite file.

// Not every test file uses every helper.
#[allow(dead_code)]
mod support;

mod catalog;
mod checkout;
mod client_side;
mod people;
mod smoke;
