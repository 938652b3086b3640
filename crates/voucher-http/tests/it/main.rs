//! The HTTP API through the whole app over a real SQLite file.

// Not every test file uses every helper.
#[allow(dead_code)]
mod support;

mod people;
mod smoke;
