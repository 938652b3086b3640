//! The `voucher` binary. All of its code lives in `crates/voucher-cli`; this
//! file only exists so that `cargo run` works from the repository root.

fn main() -> std::process::ExitCode {
    voucher_cli::main()
}
