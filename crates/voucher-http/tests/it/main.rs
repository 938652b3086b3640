//! The HTTP API through the whole app over a real SQLite file.

mod support;

mod people;
mod smoke;
