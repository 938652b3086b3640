//! The official Voucherify SDKs, npm `@voucherify/sdk` 2.9.0 and PyPI
//! `voucherify` 6.1.1, unchanged, drive a real `voucher serve` (port 0, fresh
//! database) through tests/sdk/run.sh, with the binary Cargo built here.
//!
//! The suites need Node and Python packages that tests/sdk/setup.sh installs
//! (`.ci/run` does). Without them each test says it was skipped, and why, and
//! passes, so that `cargo test --workspace` needs nothing but Rust; with
//! VOUCHER_REQUIRE_ALL_TESTS=1 (set by `.ci/run`) a skip is a failure.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("sdk")
}

/// Whether a program answers `--version`.
fn has_program(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// Says, past the test harness's capture, that the suite did not run; fails
/// instead when every suite is required.
fn skip(lang: &str, why: &str) {
    let message = format!("skipped: SDK {lang} suite: {why} (run .ci/run or tests/sdk/setup.sh)");
    if std::env::var("VOUCHER_REQUIRE_ALL_TESTS").is_ok_and(|v| v == "1") {
        panic!("VOUCHER_REQUIRE_ALL_TESTS=1 but {message}");
    }
    // Straight to stderr: libtest captures `eprintln!` of passing tests.
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

/// Runs `tests/sdk/run.sh LANG <binary>` and fails with its output unless it
/// exits 0.
fn run_suite(lang: &str) {
    let script = sdk_dir().join("run.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(lang)
        .arg(env!("CARGO_BIN_EXE_voucher"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = format!("{stdout}\n{stderr}");
    assert!(
        out.status.success(),
        "SDK {lang} suite failed ({}); run `tests/sdk/run.sh {lang} <voucher>` for all of its output.\n{}",
        out.status,
        digest(&all)
    );
    if std::env::var("VOUCHER_SDK_VERBOSE").is_ok_and(|v| v == "1") {
        let _ = writeln!(std::io::stderr().lock(), "{all}");
    }
}

/// The outcome line of every test (node's spec reporter marks them with
/// check marks, unittest's verbose mode ends them with `... ok`), then the
/// end of the output, where both runners detail their failures.
fn digest(output: &str) -> String {
    const TAIL_LINES: usize = 200;
    let lines: Vec<&str> = output.lines().collect();
    let tail_from = lines.len().saturating_sub(TAIL_LINES);
    let outcomes = lines[..tail_from].iter().filter(|l| {
        let t = l.trim_start();
        t.starts_with('\u{2714}')
            || t.starts_with('\u{2716}')
            || t.ends_with("... ok")
            || t.ends_with("... FAIL")
            || t.ends_with("... ERROR")
            || t.ends_with("... skipped")
    });
    let mut out = String::new();
    for line in outcomes
        .chain(std::iter::once(&"[...]"))
        .chain(&lines[tail_from..])
    {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn js_sdk_drives_a_real_server() {
    if !has_program("node") {
        return skip("js", "node is not installed");
    }
    if !has_program("bash") {
        return skip("js", "bash is not installed");
    }
    if !sdk_dir()
        .join("js/node_modules/@voucherify/sdk/package.json")
        .is_file()
    {
        return skip("js", "tests/sdk/js/node_modules is not installed");
    }
    run_suite("js");
}

#[test]
fn python_sdk_drives_a_real_server() {
    if !has_program("bash") {
        return skip("python", "bash is not installed");
    }
    if !sdk_dir().join("python/.venv/bin/python").is_file() {
        return skip(
            "python",
            "the virtualenv tests/sdk/python/.venv is not installed",
        );
    }
    run_suite("python");
}
