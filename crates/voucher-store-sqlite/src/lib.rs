//! SQLite adapter for the voucher engine's store ports: persists what
//! `voucher-core` decides, atomically and durably. Filled in by the store issue.
