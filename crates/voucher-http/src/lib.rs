//! The HTTP adapter: Voucherify-compatible `/v1` and `/client/v1` endpoints
//! over axum. Filled in by the HTTP issue; it translates, it never decides.
