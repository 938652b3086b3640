//! Integration tests of the SQLite store: a real database file in a
//! temporary directory, driven through the store ports.

mod catalog;
mod projects;
mod support;
