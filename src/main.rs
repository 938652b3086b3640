//! The `voucher` binary. All of its code lives in `crates/voucher-cli`; this
//! file only exists so that `cargo run` works from the repository root.

/// mimalloc: the server allocates a little for every request on several
/// threads (JSON bodies and answers, SQLite rows), where glibc's allocator
/// spent a tenth of its CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    voucher_cli::main()
}
