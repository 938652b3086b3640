//! The logs, in a test binary of their own: tracing caches per call site
//! whether anyone listens, process-wide, so tests running beside these
//! without a subscriber could make a call site look disabled to them.

// Not every helper is used here.
#[allow(dead_code)]
#[path = "../it/support.rs"]
mod support;

mod logging;
