//! `voucher-core`: the pure, deterministic promotion engine.
//!
//! It decides, to the cent, whether a code may be used on an order and what
//! it is worth, and describes each redemption as a state transition that a
//! store applies atomically. It performs no I/O, reads no clock (time comes in
//! as an argument) and draws no OS randomness (an `RngCore` comes in as an
//! argument). Same inputs, same outputs.

pub mod allocation;
pub mod code_pattern;
pub mod decision;
pub mod discount;
pub mod ledger;
pub mod limits;
pub mod money;
pub mod order;
pub mod port;
pub mod qualification;
pub mod rules;
pub mod stacking;
pub mod validity;
pub mod value;
pub mod voucher;
pub mod webhook;
