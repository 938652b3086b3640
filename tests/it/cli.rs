//! The `voucher` binary, run for real on a database file in a temporary
//! directory: the brief's story (issue 6's "Done when"), exit codes, the
//! one-line errors, and the output formats scripts rely on.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{Datelike, Duration, Utc};
use serde_json::Value;

/// A fresh database file (not created yet: the first command makes it).
struct Db {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl Db {
    fn new() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shop.db");
        Db { dir, path }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `voucher --db FILE args...` with no VOUCHER_* variables.
    fn run(&self, args: &[&str]) -> Run {
        self.run_with(&[], args)
    }

    /// Runs `voucher --db FILE args...` with these VOUCHER_* variables only.
    fn run_with(&self, vars: &[(&str, &str)], args: &[&str]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_voucher"));
        for (name, _) in std::env::vars() {
            if name.starts_with("VOUCHER_") {
                command.env_remove(name);
            }
        }
        command.envs(vars.iter().copied());
        let output = command
            .arg("--db")
            .arg(&self.path)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        Run::new(args, output)
    }

    /// Runs a command that must succeed quietly; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.code, 0, "{run:?}");
        assert_eq!(run.stderr, "", "{run:?}");
        run.stdout
    }

    /// Runs a command with `--json` that must succeed; returns its output.
    fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let stdout = self.ok(&args);
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }

    /// Runs a command that must fail with this exit code and key; returns
    /// the run.
    fn fails(&self, args: &[&str], code: i32, key: &str) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, code, "{run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "one line: {run:?}");
        assert!(
            run.stderr.starts_with(&format!("error: {key}: ")),
            "key {key}: {run:?}"
        );
        run
    }
}

#[derive(Debug)]
struct Run {
    // Read through `Debug`, in the messages of failed assertions.
    #[allow(dead_code)]
    args: Vec<String>,
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn new(args: &[&str], output: Output) -> Run {
        Run {
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

fn text(value: &Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no text {field} in {value}"))
        .to_owned()
}

/// The codes of a CSV export, checking its header.
fn exported_codes(path: &Path) -> Vec<String> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    assert_eq!(&reader.headers().unwrap()[0], "Code");
    reader.records().map(|r| r.unwrap()[0].to_owned()).collect()
}

#[test]
fn the_brief_story_runs_from_the_command_line() {
    let db = Db::new();

    // A public code, 25% off, redeemed, then disabled.
    let public = db.json(&[
        "campaign",
        "create",
        "--name",
        "Public",
        "--percent-off",
        "25",
        "--code",
        "FEEDMEHUMAN",
    ]);
    assert_eq!(
        (text(&public, "kind"), public["codes"].as_u64()),
        ("STANDALONE".to_owned(), Some(1))
    );
    let redeemed = db.json(&["redeem", "FEEDMEHUMAN", "--amount", "40.00"]);
    assert_eq!(
        (
            text(&redeemed, "result"),
            text(&redeemed, "discount"),
            text(&redeemed, "total")
        ),
        ("SUCCESS".to_owned(), "10.00".to_owned(), "30.00".to_owned())
    );
    assert!(text(&redeemed, "id").starts_with("r_"));
    let disabled = db.json(&["voucher", "disable", "FEEDMEHUMAN"]);
    assert_eq!(disabled["active"], Value::Bool(false));
    db.fails(
        &["redeem", "FEEDMEHUMAN", "--amount", "40.00"],
        1,
        "voucher_disabled",
    );

    // 200 unique codes, CAT- and 8 characters, 25% off, from a future date.
    let start = (Utc::now() + Duration::days(400)).date_naive().to_string();
    let spring = db.json(&[
        "campaign",
        "create",
        "--name",
        "Spring",
        "--percent-off",
        "25",
        "--count",
        "200",
        "--prefix",
        "CAT-",
        "--length",
        "8",
        "--start",
        &start,
    ]);
    assert_eq!(spring["codes"].as_u64(), Some(200), "{spring}");
    assert_eq!(text(&spring, "generation"), "DONE");
    assert_eq!(text(&spring, "start"), start);

    // Exported to CSV: 200 rows, all distinct, all with the prefix.
    let csv_path = db.file("spring.csv");
    db.ok(&[
        "codes",
        "export",
        "--campaign",
        "Spring",
        "-o",
        csv_path.to_str().unwrap(),
    ]);
    let codes = exported_codes(&csv_path);
    assert_eq!(codes.len(), 200);
    let distinct: std::collections::BTreeSet<&String> = codes.iter().collect();
    assert_eq!(distinct.len(), 200);
    assert!(
        codes
            .iter()
            .all(|c| c.starts_with("CAT-") && c.chars().count() == 12),
        "{codes:?}"
    );

    // One of them, validated now: not active yet, exit 1.
    let run = db.fails(
        &["validate", &codes[0], "--amount", "40.00", "--json"],
        1,
        "voucher_not_active",
    );
    assert_eq!(run.json()["reason"], "voucher_not_active");
    assert_eq!(run.json()["valid"], Value::Bool(false));

    // A gift card of 50.00 spent on three orders of 20.00: the third
    // spends the last 10.00; a fourth is refused.
    db.json(&[
        "campaign", "create", "--name", "Cards", "--gift", "50.00", "--code", "GC-50",
    ]);
    let spends: Vec<(String, String, String)> = (0..3)
        .map(|_| {
            let r = db.json(&["redeem", "GC-50", "--amount", "20.00"]);
            (text(&r, "credits"), text(&r, "balance"), text(&r, "total"))
        })
        .collect();
    let owned = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        spends,
        [
            owned("20.00", "30.00", "0.00"),
            owned("20.00", "10.00", "0.00"),
            owned("10.00", "0.00", "10.00"),
        ]
    );
    let refused = db.fails(
        &["redeem", "GC-50", "--amount", "20.00", "--json"],
        1,
        "gift_amount_exceeded",
    );
    assert_eq!(refused.json()["result"], "FAILURE");
    assert!(text(&refused.json(), "id").starts_with("rf_"));
    let card = db.json(&["voucher", "show", "GC-50"]);
    assert_eq!(text(&card, "balance"), "0.00");

    // The failed redemptions, by reason.
    let failed = db.json(&["redemptions", "list", "--result", "failure"]);
    let mut reasons: Vec<(String, String)> = failed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (text(r, "code"), text(r, "reason")))
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            ("FEEDMEHUMAN".to_owned(), "voucher_disabled".to_owned()),
            ("GC-50".to_owned(), "gift_amount_exceeded".to_owned()),
        ]
    );
    let by_reason = db.json(&["redemptions", "list", "--reason", "gift_amount_exceeded"]);
    assert_eq!(by_reason.as_array().unwrap().len(), 1);
    let csv = db.ok(&[
        "redemptions",
        "list",
        "--reason",
        "voucher_disabled",
        "--csv",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("id,created_at,code,campaign"));
    assert!(lines[1].contains(",FEEDMEHUMAN,Public,"), "{csv}");

    let stats = db.json(&["campaign", "stats", "Cards"]);
    assert_eq!(stats["failed_by_reason"]["gift_amount_exceeded"], 1);
    assert_eq!(
        (text(&stats, "gift_spent"), text(&stats, "gift_outstanding")),
        ("50.00".to_owned(), "0.00".to_owned())
    );
}

#[test]
fn any_command_on_a_new_file_creates_it_with_the_default_project() {
    let db = Db::new();
    // Global flags after the subcommand; the code does not exist.
    let run = db.run(&["voucher", "show", "NOPE", "--json"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.starts_with("error: not_found: "), "{run:?}");
    assert!(db.path.exists());
    let projects = db.json(&["projects", "list"]);
    assert_eq!(projects[0]["name"], "default");
    assert_eq!(projects[0]["currency"], "EUR");
}

#[test]
fn exit_codes_and_one_line_errors() {
    let db = Db::new();
    db.ok(&[
        "campaign",
        "create",
        "--name",
        "Ten",
        "--amount-off",
        "10.00",
        "--code",
        "TEN",
    ]);
    // 2: usage, from clap and from the values.
    let run = db.fails(&["campaign", "create", "--name", "X"], 2, "usage");
    assert!(
        run.stderr.contains("--percent-off"),
        "names what is missing: {run:?}"
    );
    db.fails(&["frobnicate"], 2, "usage");
    db.fails(
        &["validate", "TEN", "--amount", "10.005"],
        2,
        "invalid_amount",
    );
    db.fails(&["validate", "TEN", "--amount", "ten"], 2, "invalid_amount");
    db.fails(&["validate", "TEN"], 2, "missing_amount");
    db.fails(
        &["validate", "TEN", "--item", "cat-food:two:1.00"],
        2,
        "invalid_item",
    );
    db.fails(
        &[
            "campaign",
            "create",
            "--name",
            "Tiny",
            "--percent-off",
            "5",
            "--count",
            "200",
            "--pattern",
            "##",
            "--charset",
            "0123456789",
        ],
        2,
        "invalid_code_config",
    );
    db.fails(
        &[
            "campaign",
            "create",
            "--name",
            "Y",
            "--percent-off",
            "5",
            "--start",
            "April",
        ],
        2,
        "invalid_date",
    );
    db.fails(
        &["redemptions", "list", "--reason", "nope"],
        2,
        "invalid_reason",
    );
    // 3: not found, an unknown code too.
    db.fails(
        &["redeem", "NOPE", "--amount", "1"],
        3,
        "resource_not_found",
    );
    db.fails(
        &["validate", "NOPE", "--amount", "1"],
        3,
        "resource_not_found",
    );
    db.fails(&["campaign", "show", "Nope"], 3, "not_found");
    db.fails(&["rollback", "r_nope"], 3, "not_found");
    db.fails(
        &["voucher", "show", "NOPE", "--project", "sandbox"],
        3,
        "not_found",
    );
    // 4: other failures.
    db.fails(
        &[
            "campaign",
            "create",
            "--name",
            "Ten",
            "--amount-off",
            "1.00",
            "--code",
            "TEN2",
        ],
        4,
        "duplicate_found",
    );
    db.fails(
        &["--url", "http://127.0.0.1:9", "voucher", "show", "TEN"],
        2,
        "missing_key",
    );
    db.fails(
        &["--url", "ftp://127.0.0.1:9", "voucher", "show", "TEN"],
        2,
        "invalid_url",
    );
    let keys = [("VOUCHER_APP_ID", "id"), ("VOUCHER_APP_TOKEN", "secret")];
    let run = db.run_with(
        &keys,
        &["--url", "https://127.0.0.1:9", "voucher", "show", "TEN"],
    );
    assert_eq!(run.code, 4, "{run:?}");
    assert!(
        run.stderr.starts_with("error: server_unreachable: "),
        "{run:?}"
    );
    // A failed create leaves nothing behind: the same command works again.
    db.fails(
        &[
            "campaign",
            "create",
            "--name",
            "Dup",
            "--amount-off",
            "1.00",
            "--code",
            "TEN",
        ],
        4,
        "duplicate_found",
    );
    db.ok(&[
        "campaign",
        "create",
        "--name",
        "Dup",
        "--amount-off",
        "1.00",
        "--code",
        "DUP",
    ]);
    // The exit codes are documented in --help, and every command has an example.
    let help = db.ok(&["--help"]);
    assert!(
        help.contains("Exit codes:") && help.contains("3  not found"),
        "{help}"
    );
    let help = db.ok(&["campaign", "create", "--help"]);
    assert!(help.contains("Example"), "{help}");
}

#[test]
fn a_rollback_returns_the_use_and_the_credits() {
    let db = Db::new();
    db.ok(&[
        "campaign", "create", "--name", "Cards", "--gift", "30.00", "--code", "GC-30",
    ]);
    let r = db.json(&["redeem", "GC-30", "--amount", "25.00", "--credits", "12.50"]);
    assert_eq!(
        (text(&r, "credits"), text(&r, "balance")),
        ("12.50".to_owned(), "17.50".to_owned())
    );
    let back = db.json(&["rollback", &text(&r, "id"), "--reason", "refund"]);
    assert_eq!(
        (text(&back, "credits"), text(&back, "balance")),
        ("12.50".to_owned(), "30.00".to_owned())
    );
    db.fails(&["rollback", &text(&r, "id")], 1, "already_rolled_back");
    let topped = db.json(&["voucher", "balance", "GC-30", "--add", "10.00"]);
    assert_eq!(text(&topped, "balance"), "40.00");
    db.fails(
        &["voucher", "balance", "GC-30", "--add=-50.00"],
        1,
        "gift_amount_exceeded",
    );
    let state = db.json(&["redemptions", "list", "--code", "GC-30"]);
    assert_eq!(state[0]["state"], "ROLLED_BACK");
}

#[test]
fn rules_limits_and_windows_are_enforced() {
    let db = Db::new();
    db.ok(&[
        "campaign",
        "create",
        "--name",
        "Big",
        "--amount-off",
        "20.00",
        "--min-order",
        "100.00",
        "--per-customer",
        "1",
        "--code",
        "BIG20",
    ]);
    db.fails(
        &[
            "validate",
            "BIG20",
            "--amount",
            "99.99",
            "--customer",
            "tom",
        ],
        1,
        "order_rules_violated",
    );
    let ok = db.json(&[
        "validate",
        "BIG20",
        "--amount",
        "100.00",
        "--customer",
        "tom",
    ]);
    assert_eq!(
        (ok["valid"].clone(), text(&ok, "total")),
        (Value::Bool(true), "80.00".to_owned())
    );
    db.fails(
        &["redeem", "BIG20", "--amount", "100.00"],
        1,
        "missing_customer",
    );
    db.json(&["redeem", "BIG20", "--amount", "120.00", "--customer", "tom"]);
    db.fails(
        &["redeem", "BIG20", "--amount", "120.00", "--customer", "tom"],
        1,
        "redemption_rules_violated",
    );
    db.json(&["redeem", "BIG20", "--amount", "120.00", "--customer", "ann"]);

    // Items instead of an amount: 2 x 12.50 + 1 x 5.00.
    db.ok(&[
        "campaign",
        "create",
        "--name",
        "Tenth",
        "--percent-off",
        "10",
        "--code",
        "TENTH",
    ]);
    let items = db.json(&[
        "validate",
        "TENTH",
        "--item",
        "cat-food:2:12.50",
        "--item",
        "toy:1:5.00",
    ]);
    assert_eq!(
        (
            text(&items, "amount"),
            text(&items, "discount"),
            text(&items, "total")
        ),
        ("30.00".to_owned(), "3.00".to_owned(), "27.00".to_owned())
    );

    // Valid only on two days that are neither yesterday, today nor
    // tomorrow (in UTC), so the answer cannot change while the test runs.
    let today = Utc::now().weekday();
    let days = format!("{},{}", today.succ().succ(), today.succ().succ().succ());
    db.ok(&[
        "campaign",
        "create",
        "--name",
        "Weekend",
        "--percent-off",
        "10",
        "--code",
        "LATER",
        "--days",
        &days,
        "--tz",
        "UTC",
    ]);
    db.fails(
        &["validate", "LATER", "--amount", "10.00"],
        1,
        "voucher_not_active_now",
    );
    db.fails(
        &[
            "campaign",
            "create",
            "--name",
            "Evening",
            "--percent-off",
            "10",
            "--code",
            "EVE",
            "--hours",
            "18:00",
        ],
        2,
        "invalid_hours",
    );
    db.ok(&[
        "campaign",
        "create",
        "--name",
        "Evening",
        "--percent-off",
        "10",
        "--code",
        "EVE",
        "--hours",
        "18:00-22:00",
        "--tz",
        "Europe/Warsaw",
        "--expire",
        "2020-01-01",
    ]);
    db.fails(
        &["validate", "EVE", "--amount", "10.00"],
        1,
        "voucher_expired",
    );

    // A disabled campaign refuses its codes; enabled again, it takes them.
    db.ok(&["campaign", "disable", "Tenth"]);
    db.fails(
        &["validate", "TENTH", "--amount", "10.00"],
        1,
        "voucher_disabled",
    );
    db.ok(&["campaign", "enable", "Tenth"]);
    db.json(&["validate", "TENTH", "--amount", "10.00"]);
}

#[test]
fn codes_are_added_imported_and_exported() {
    let db = Db::new();
    db.ok(&[
        "campaign",
        "create",
        "--name",
        "Cat",
        "--percent-off",
        "25",
        "--count",
        "20",
        "--pattern",
        "CAT-####-####",
        "--charset",
        "ABCDEFGHJKLMNPQRSTUVWXYZ23456789",
    ]);
    let more = db.json(&["campaign", "add-codes", "Cat", "--count", "30"]);
    assert_eq!(more["codes"].as_u64(), Some(50));
    // Export to stdout.
    let csv = db.ok(&["codes", "export", "--campaign", "Cat"]);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let codes: Vec<String> = reader.records().map(|r| r.unwrap()[0].to_owned()).collect();
    assert_eq!(codes.len(), 50);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 13 && c.starts_with("CAT-") && &c[8..9] == "-"),
        "{codes:?}"
    );

    // Import into another campaign: new codes go in, a bad row is reported.
    db.ok(&[
        "campaign",
        "create",
        "--name",
        "Imported",
        "--amount-off",
        "5.00",
    ]);
    let file = db.file("in.csv");
    std::fs::write(&file, "Code,Value\nIMP-1,\nIMP-2,7.50\nIMP-3,lots\n").unwrap();
    let run = db.run(&[
        "codes",
        "import",
        "--campaign",
        "Imported",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        (
            run.json()["imported"].as_u64(),
            run.json()["failed"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert!(
        run.stderr
            .lines()
            .last()
            .unwrap()
            .starts_with("error: import_rows_refused: "),
        "{run:?}"
    );
    let two = db.json(&["validate", "IMP-2", "--amount", "20.00"]);
    assert_eq!(text(&two, "discount"), "7.50");
    let one = db.json(&["validate", "IMP-1", "--amount", "20.00"]);
    assert_eq!(text(&one, "discount"), "5.00");
    db.fails(
        &[
            "codes",
            "import",
            "--campaign",
            "Nope",
            file.to_str().unwrap(),
        ],
        3,
        "not_found",
    );
    db.fails(
        &["codes", "import", "--campaign", "Imported", "missing.csv"],
        3,
        "not_found",
    );

    // From stdin, as in `... | voucher codes import --campaign Imported -`.
    let mut child = Command::new(env!("CARGO_BIN_EXE_voucher"))
        .args([
            "--db",
            db.path.to_str().unwrap(),
            "codes",
            "import",
            "--campaign",
            "Imported",
            "-",
            "--json",
        ])
        .env_remove("VOUCHER_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"Code\nIMP-4\nIMP-5\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["imported"].as_u64(), Some(2));
    let five = db.json(&["voucher", "show", "IMP-5"]);
    assert_eq!(
        (text(&five, "campaign"), text(&five, "value")),
        ("Imported".to_owned(), "5.00 off".to_owned())
    );
}

#[test]
fn a_new_file_takes_the_currency_of_its_first_campaign() {
    let db = Db::new();
    let yen = db.json(&[
        "campaign",
        "create",
        "--name",
        "Yen",
        "--currency",
        "JPY",
        "--amount-off",
        "500",
        "--code",
        "YEN",
    ]);
    assert_eq!(text(&yen, "value"), "500 off");
    let r = db.json(&["validate", "YEN", "--amount", "1200"]);
    assert_eq!(text(&r, "total"), "700");
    db.fails(&["validate", "YEN", "--amount", "1.5"], 2, "invalid_amount");
    db.fails(
        &[
            "campaign",
            "create",
            "--name",
            "Eur",
            "--currency",
            "EUR",
            "--amount-off",
            "5",
            "--code",
            "E",
        ],
        2,
        "currency_mismatch",
    );
}

#[test]
fn projects_keys_backup_and_completions() {
    let db = Db::new();
    let sandbox = db.json(&[
        "projects",
        "create",
        "sandbox",
        "--currency",
        "USD",
        "--tz",
        "America/New_York",
    ]);
    assert_eq!(
        (text(&sandbox, "currency"), text(&sandbox, "time_zone")),
        ("USD".to_owned(), "America/New_York".to_owned())
    );
    let key = db.json(&["keys", "create", "--project", "sandbox"]);
    // Which fields, not their order: serde_json keeps insertion order when
    // another crate of the build turns on its `preserve_order`.
    let mut fields: Vec<&String> = key.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(fields, ["id", "kind", "project", "secret"]);
    assert_eq!(
        (text(&key, "kind"), text(&key, "project")),
        ("server".to_owned(), "sandbox".to_owned())
    );
    assert!(text(&key, "secret").len() >= 32);
    let client = db.json(&[
        "keys",
        "create",
        "--client",
        "--origins",
        "https://shop.example,https://m.shop.example",
        "--allow-redeem",
    ]);
    assert_eq!(text(&client, "kind"), "client");
    let keys = db.json(&["keys", "list"]);
    let listed: Vec<(String, Value)> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (text(k, "id"), k["permissions"].clone()))
        .collect();
    assert!(
        listed.contains(&(text(&client, "id"), serde_json::json!(["redeem"]))),
        "{keys}"
    );
    assert!(
        keys.to_string().find(&text(&key, "secret")).is_none(),
        "a secret is shown only once"
    );
    db.run(&["keys", "revoke", &text(&key, "id")]);
    let keys = db.json(&["keys", "list"]);
    let revoked = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == key["id"])
        .unwrap();
    assert!(revoked["revoked_at"].is_string(), "{keys}");
    db.fails(&["keys", "revoke", "nope"], 3, "not_found");

    // A campaign in the sandbox is not seen from the default project.
    db.ok(&[
        "--project",
        "sandbox",
        "campaign",
        "create",
        "--name",
        "S",
        "--amount-off",
        "1.00",
        "--code",
        "SAND",
    ]);
    db.fails(&["voucher", "show", "SAND"], 3, "not_found");

    let copy = db.file("copy.db");
    db.run(&["backup", copy.to_str().unwrap()]);
    let from_copy = Command::new(env!("CARGO_BIN_EXE_voucher"))
        .args([
            "--db",
            copy.to_str().unwrap(),
            "--project",
            "sandbox",
            "voucher",
            "show",
            "SAND",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(from_copy.status.success(), "{from_copy:?}");

    for shell in ["bash", "zsh", "fish"] {
        let script = db.ok(&["completions", shell]);
        assert!(script.contains("campaign"), "{shell}");
    }
}

#[test]
fn a_code_becomes_a_qr_image() {
    let db = Db::new();
    db.ok(&[
        "campaign", "create", "--name", "Cards", "--gift", "50.00", "--code", "GC-50",
    ]);
    let png = db.file("gc.png");
    db.ok(&["qr", "GC-50", "-o", png.to_str().unwrap()]);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let svg = db.file("gc.svg");
    db.ok(&["qr", "GC-50", "-o", svg.to_str().unwrap()]);
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    db.fails(&["qr", "NOPE", "-o", png.to_str().unwrap()], 3, "not_found");
    db.fails(&["qr", "GC-50", "-o", "gc.gif"], 2, "invalid_output");
}

/// A `voucher serve` on the file and a free port, stopped when dropped.
struct Server {
    child: std::process::Child,
    address: String,
}

impl Server {
    fn start(db: &Db) -> Server {
        Server::start_with(db, &[])
    }

    /// A server with more flags of `serve`.
    fn start_with(db: &Db, flags: &[&str]) -> Server {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(env!("CARGO_BIN_EXE_voucher"))
            .args([
                "--db",
                db.path.to_str().unwrap(),
                "serve",
                "--listen",
                "127.0.0.1:0",
            ])
            .args(flags)
            .env_remove("VOUCHER_PUBLIC_URL")
            .env_remove("VOUCHER_URL")
            .env_remove("VOUCHER_APP_ID")
            .env_remove("VOUCHER_APP_TOKEN")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let address = loop {
            match lines.next() {
                Some(line) => {
                    if let Some(url) = line.unwrap().strip_prefix("listening on http://") {
                        break url.to_owned();
                    }
                }
                None => {
                    let _ = child.kill();
                    panic!("serve stopped before listening");
                }
            }
        };
        Server { child, address }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// Stops a server as a service manager does (SIGTERM, elsewhere a kill)
/// and waits for it to exit.
fn terminate(child: &mut std::process::Child) {
    #[cfg(unix)]
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_child(child),
        rustix::process::Signal::TERM,
    );
    #[cfg(not(unix))]
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 GET to the server: the status line, the headers (names in
/// lowercase) and the body.
fn http_get(server: &Server, path: &str, headers: &[(&str, &str)]) -> (String, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(&server.address).unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n", server.address);
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8(response[..split].to_vec()).unwrap();
    let (status, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
    assert!(
        !headers
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{headers}"
    );
    (
        status.to_owned(),
        headers.to_ascii_lowercase(),
        response[split + 4..].to_vec(),
    )
}

/// A voucher's `assets` URLs start with the listen address, or with
/// `--public-url` when given, and the server serves them without a key.
#[test]
fn serve_links_voucher_images_under_its_address_or_public_url() {
    let db = Db::new();
    db.ok(&[
        "campaign", "create", "--name", "Cards", "--gift", "50.00", "--code", "GC-50",
    ]);
    let key = db.json(&["keys", "create"]);
    let (id, secret) = (text(&key, "id"), text(&key, "secret"));
    let auth = [("X-App-Id", id.as_str()), ("X-App-Token", secret.as_str())];
    let assets_of = |server: &Server| {
        let (status, _, body) = http_get(server, "/v1/vouchers/GC-50", &auth);
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        let voucher: Value = serde_json::from_slice(&body).unwrap();
        voucher["assets"].clone()
    };

    let server = Server::start(&db);
    let assets = assets_of(&server);
    let url = text(&assets["qr"], "url");
    let path = url
        .strip_prefix(&server.url())
        .unwrap_or_else(|| panic!("{url} is not under {}", server.url()));
    assert!(!url.contains("GC-50"), "{url}");
    let (status, headers, png) = http_get(&server, path, &[]);
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(headers.contains("content-type: image/png"), "{headers}");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let barcode = text(&assets["barcode"], "url");
    let svg_path = format!(
        "{}?format=svg",
        barcode.strip_prefix(&server.url()).unwrap()
    );
    let (status, headers, svg) = http_get(&server, &svg_path, &[]);
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(headers.contains("content-type: image/svg+xml"), "{headers}");
    assert!(String::from_utf8(svg).unwrap().contains("<rect"));
    drop(server);

    // Another start, behind a proxy: the same tokens (the secret is in the
    // file) under the public URL, and the old path still works.
    let server = Server::start_with(&db, &["--public-url", "https://vouchers.example/"]);
    let behind = assets_of(&server);
    let id = text(&assets["qr"], "id");
    assert_eq!(
        text(&behind["qr"], "url"),
        format!("https://vouchers.example/v1/assets/qr/{id}")
    );
    let (status, _, again) = http_get(&server, path, &[]);
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(again, png);
    drop(server);

    let run = db.run(&["serve", "--public-url", "vouchers.example"]);
    assert_eq!(run.code, 2, "{run:?}");
}

/// `serve` opens the file through the same bootstrap as the scripting
/// commands: the campaign made from the command line is there, and the
/// server answers.
#[test]
fn serve_shares_the_file_and_its_default_project() {
    use std::io::{Read, Write};

    let db = Db::new();
    db.ok(&[
        "campaign",
        "create",
        "--name",
        "Public",
        "--percent-off",
        "25",
        "--code",
        "FEEDMEHUMAN",
    ]);
    let server = Server::start(&db);
    let mut stream = std::net::TcpStream::connect(&server.address).unwrap();
    write!(
        stream,
        "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.address
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    drop(server);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // Serve made its keys in the project the CLI had created.
    let keys = db.json(&["keys", "list"]);
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .all(|k| k["project"] == "default"),
        "{keys}"
    );
    assert_eq!(keys.as_array().unwrap().len(), 2, "{keys}");
}

/// The checkout part of the story with `--url`, against a running server
/// with a key made by `keys create --json`.
#[test]
fn the_story_runs_against_a_server_with_url() {
    let db = Db::new();
    // Only the key is made on the file: the rest goes through the server.
    let server = Server::start(&db);
    let url = server.url();
    // The operator's commands stay on the file when VOUCHER_URL is set.
    let run = db.run_with(
        &[("VOUCHER_URL", url.as_str())],
        &["keys", "create", "--json"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let key = run.json();
    let (id, secret) = (text(&key, "id"), text(&key, "secret"));
    let vars = [
        ("VOUCHER_URL", url.as_str()),
        ("VOUCHER_APP_ID", id.as_str()),
        ("VOUCHER_APP_TOKEN", secret.as_str()),
    ];
    let remote = |args: &[&str]| db.run_with(&vars, args);
    let json = |args: &[&str]| {
        let mut args = args.to_vec();
        args.push("--json");
        let run = remote(&args);
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
        run.json()
    };
    let fails = |args: &[&str], code: i32, key: &str| {
        let run = remote(args);
        assert_eq!(run.code, code, "{run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
        assert!(
            run.stderr.starts_with(&format!("error: {key}: ")),
            "{run:?}"
        );
        run
    };

    let public = json(&[
        "campaign",
        "create",
        "--name",
        "Public",
        "--percent-off",
        "25",
        "--code",
        "FEEDMEHUMAN",
    ]);
    assert_eq!(
        (text(&public, "type"), public["vouchers_count"].as_u64()),
        ("STANDALONE".to_owned(), Some(1)),
        "{public}"
    );
    // 200 codes from a future date: the command returns once they exist.
    let start = (Utc::now() + Duration::days(400)).date_naive().to_string();
    let spring = json(&[
        "campaign",
        "create",
        "--name",
        "Spring",
        "--percent-off",
        "25",
        "--count",
        "200",
        "--prefix",
        "CAT-",
        "--length",
        "8",
        "--start",
        &start,
    ]);
    assert_eq!(
        (
            spring["vouchers_count"].as_u64(),
            text(&spring, "vouchers_generation_status")
        ),
        (Some(200), "DONE".to_owned()),
        "{spring}"
    );
    let csv_path = db.file("remote.csv");
    let exported = json(&[
        "codes",
        "export",
        "--campaign",
        "Spring",
        "-o",
        csv_path.to_str().unwrap(),
    ]);
    assert_eq!(exported["exported"].as_u64(), Some(200), "{exported}");
    let codes = exported_codes(&csv_path);
    let distinct: std::collections::BTreeSet<&String> = codes.iter().collect();
    assert_eq!(distinct.len(), 200);
    assert!(
        codes.iter().all(|c| c.starts_with("CAT-") && c.len() == 12),
        "{codes:?}"
    );
    let run = fails(
        &["validate", &codes[0], "--amount", "40.00", "--json"],
        1,
        "voucher_not_active",
    );
    assert_eq!(run.json()["reason"], "voucher_not_active");
    json(&[
        "campaign", "create", "--name", "Cards", "--gift", "50.00", "--code", "GC-50",
    ]);
    fails(
        &[
            "campaign",
            "create",
            "--name",
            "Dup",
            "--percent-off",
            "5",
            "--code",
            "GC-50",
        ],
        4,
        "duplicate_found",
    );
    // The failed create left no campaign behind.
    fails(&["campaign", "show", "Dup"], 3, "not_found");
    db.fails(&["campaign", "show", "Dup"], 3, "not_found");
    let shown = json(&["campaign", "show", "Spring"]);
    assert_eq!(shown["vouchers_count"].as_u64(), Some(200), "{shown}");
    let listed = json(&["campaign", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");

    let valid = json(&["validate", "FEEDMEHUMAN", "--amount", "40.00"]);
    assert_eq!(
        (text(&valid, "discount"), text(&valid, "total")),
        ("10.00".to_owned(), "30.00".to_owned())
    );
    let redeemed = json(&["redeem", "FEEDMEHUMAN", "--amount", "40.00"]);
    assert!(text(&redeemed, "id").starts_with("r_"), "{redeemed}");
    assert_eq!(
        json(&["voucher", "disable", "FEEDMEHUMAN"])["active"],
        Value::Bool(false)
    );
    fails(
        &["redeem", "FEEDMEHUMAN", "--amount", "40.00"],
        1,
        "voucher_disabled",
    );

    let spends: Vec<(String, String)> = (0..3)
        .map(|_| {
            let r = json(&["redeem", "GC-50", "--amount", "20.00"]);
            (text(&r, "credits"), text(&r, "balance"))
        })
        .collect();
    let owned = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        spends,
        [
            owned("20.00", "30.00"),
            owned("20.00", "10.00"),
            owned("10.00", "0.00")
        ]
    );
    let refused = fails(
        &["redeem", "GC-50", "--amount", "20.00", "--json"],
        1,
        "gift_amount_exceeded",
    );
    assert!(
        text(&refused.json(), "id").starts_with("rf_"),
        "{refused:?}"
    );
    assert!(refused.stderr.contains("[recorded as rf_"), "{refused:?}");
    fails(&["validate", "NOPE", "--amount", "1"], 3, "not_found");
    let topped = json(&["voucher", "balance", "GC-50", "--add", "10.00"]);
    assert_eq!(text(&topped, "balance"), "10.00", "{topped}");
    let stats = json(&["campaign", "stats", "Cards"]);
    assert_eq!(
        stats["failed_by_reason"]["gift_amount_exceeded"], 1,
        "{stats}"
    );
    assert_eq!(
        (text(&stats, "gift_spent"), text(&stats, "gift_outstanding")),
        ("50.00".to_owned(), "10.00".to_owned()),
        "{stats}"
    );
    let more = json(&["campaign", "add-codes", "Spring", "--count", "50"]);
    assert_eq!(more["vouchers_count"].as_u64(), Some(250), "{more}");

    // Import through the server: good rows go in, a bad one is reported.
    json(&[
        "campaign",
        "create",
        "--name",
        "Imported",
        "--amount-off",
        "5.00",
    ]);
    let file = db.file("in.csv");
    std::fs::write(&file, "Code,Value\nIMP-1,\nIMP-2,7.50\nIMP-3,lots\n").unwrap();
    let run = remote(&[
        "codes",
        "import",
        "--campaign",
        "Imported",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        (
            run.json()["imported"].as_u64(),
            run.json()["failed"].as_u64()
        ),
        (Some(2), Some(1))
    );
    let two = json(&["validate", "IMP-2", "--amount", "20.00"]);
    assert_eq!(text(&two, "discount"), "7.50");
    let png = db.file("remote.png");
    remote(&["qr", "GC-50", "-o", png.to_str().unwrap()]);
    assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");

    // The failed redemptions by reason, from the server and from the file.
    let reasons = |failed: Value| {
        let mut reasons: Vec<(String, String)> = failed
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (text(r, "code"), text(r, "reason")))
            .collect();
        reasons.sort();
        reasons
    };
    let expected = [
        ("FEEDMEHUMAN".to_owned(), "voucher_disabled".to_owned()),
        ("GC-50".to_owned(), "gift_amount_exceeded".to_owned()),
    ];
    assert_eq!(
        reasons(json(&["redemptions", "list", "--result", "failure"])),
        expected
    );
    let one = json(&["redemptions", "list", "--reason", "gift_amount_exceeded"]);
    assert_eq!(one.as_array().unwrap().len(), 1, "{one}");
    drop(server);
    assert_eq!(
        reasons(db.json(&["redemptions", "list", "--result", "failure"])),
        expected
    );

    // A wrong key, no server, a command not available remotely: exit 4.
    let server = Server::start(&db);
    let url = server.url();
    let wrong = [
        ("VOUCHER_URL", url.as_str()),
        ("VOUCHER_APP_ID", id.as_str()),
        ("VOUCHER_APP_TOKEN", "wrong"),
    ];
    let run = db.run_with(&wrong, &["voucher", "show", "GC-50"]);
    assert_eq!(run.code, 4, "{run:?}");
    fails(
        &[
            "campaign",
            "create",
            "--name",
            "Tz",
            "--percent-off",
            "5",
            "--tz",
            "UTC",
        ],
        4,
        "remote_unsupported",
    );
    drop(server);
    fails(&["voucher", "show", "GC-50"], 4, "server_unreachable");
}

/// `voucher serve --help` lists every setting with its variable.
#[test]
fn serve_help_names_every_setting_and_its_variable() {
    let db = Db::new();
    let help = db.ok(&["serve", "--help"]);
    for (flag, var) in [
        ("--db", "VOUCHER_DB"),
        ("--listen", "VOUCHER_LISTEN"),
        ("--synchronous", "VOUCHER_SYNCHRONOUS"),
        ("--currency", "VOUCHER_CURRENCY"),
        ("--time-zone", "VOUCHER_TIME_ZONE"),
        ("--json-body-max", "VOUCHER_JSON_BODY_MAX"),
        ("--csv-body-max", "VOUCHER_CSV_BODY_MAX"),
        ("--client-rate-limit", "VOUCHER_CLIENT_RATE_LIMIT"),
        ("--client-rate-window", "VOUCHER_CLIENT_RATE_WINDOW"),
        ("--lockout-after", "VOUCHER_LOCKOUT_AFTER"),
        ("--lockout-for", "VOUCHER_LOCKOUT_FOR"),
        ("--key-rate-limit", "VOUCHER_KEY_RATE_LIMIT"),
        ("--key-rate-window", "VOUCHER_KEY_RATE_WINDOW"),
        ("--trusted-proxies", "VOUCHER_TRUSTED_PROXIES"),
        ("--log-format", "VOUCHER_LOG_FORMAT"),
        ("--log-level", "VOUCHER_LOG_LEVEL"),
        ("--writer-batch-max", "VOUCHER_WRITER_BATCH_MAX"),
        ("--public-url", "VOUCHER_PUBLIC_URL"),
        ("--webhook-retry-delay", "VOUCHER_WEBHOOK_RETRY_DELAY"),
    ] {
        assert!(help.contains(flag), "{flag} missing:\n{help}");
        assert!(
            help.contains(&format!("[env: {var}")),
            "{var} missing:\n{help}"
        );
    }
    // A bad setting is a usage error before anything starts.
    let run = db.run(&["serve", "--trusted-proxies", "10.0.0.0/99"]);
    assert_eq!(run.code, 2, "{run:?}");
    let run = db.run(&["serve", "--log-level", "loud=["]);
    assert_eq!(run.code, 2, "{run:?}");
}

/// One HTTP/1.1 request over a fresh connection: the raw answer.
fn http(address: &str, head: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "{head}\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// The real server behind a trusted proxy (here, the test on 127.0.0.1):
/// the forwarded client is locked out after `--lockout-after` unknown
/// codes, another forwarded client is not, and the JSON logs on stderr
/// name each request's id and client, never a whole code.
#[test]
fn serve_locks_out_a_forwarded_guesser_and_logs_json_without_codes() {
    use std::io::{BufRead, BufReader, Read};
    let db = Db::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_voucher"))
        .args([
            "--db",
            db.path.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--lockout-after", "2", "--trusted-proxies", "127.0.0.1/32"])
        .args(["--log-format", "json", "--log-level", "info"])
        .env_remove("VOUCHER_URL")
        .env_remove("RUST_LOG")
        .env("VOUCHER_CLIENT_APP_ID", "shop-client")
        .env("VOUCHER_CLIENT_TOKEN", "shop-client-secret")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("serve stopped before listening")
            .unwrap();
        if let Some(address) = line.strip_prefix("listening on http://") {
            break address.to_owned();
        }
    };
    let guess = |code: &str, client: &str| {
        http(
            &address,
            &format!(
                "GET /client/v1/validate?code={code}&amount=100 HTTP/1.1\r\n\
                 X-Client-Application-Id: shop-client\r\n\
                 X-Client-Token: shop-client-secret\r\n\
                 X-Forwarded-For: {client}"
            ),
        )
    };
    let first = guess("GUESS-SECRET-0001", "203.0.113.7");
    assert!(first.starts_with("HTTP/1.1 404"), "{first}");
    let second = guess("GUESS-SECRET-0002", "203.0.113.7");
    assert!(second.starts_with("HTTP/1.1 404"), "{second}");
    let locked = guess("GUESS-SECRET-0003", "203.0.113.7");
    assert!(locked.starts_with("HTTP/1.1 429"), "{locked}");
    let lower = locked.to_ascii_lowercase();
    assert!(lower.contains("retry-after: 900"), "{locked}");
    assert!(locked.contains("too_many_requests"), "{locked}");
    let other = guess("GUESS-SECRET-0004", "203.0.113.8");
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");
    // Lines are written by a thread of their own: a graceful stop writes
    // out every one still queued before the process exits.
    terminate(&mut child);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("GUESS-SECRET"), "{stderr}");
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let requests: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    let seen: Vec<(u64, &str)> = requests
        .iter()
        .map(|l| {
            (
                l["status"].as_u64().unwrap(),
                l["span"]["client_ip"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (404, "203.0.113.7"),
            (404, "203.0.113.7"),
            (429, "203.0.113.7"),
            (404, "203.0.113.8"),
        ],
        "{stderr}"
    );
    for (line, answer) in requests.iter().zip([&first, &second, &locked, &other]) {
        let id = line["span"]["request_id"].as_str().unwrap();
        assert!(answer.contains(id), "{id} not in {answer}");
    }
    assert!(
        lines.iter().any(|l| l["message"]
            .as_str()
            .is_some_and(|m| m.contains("locked out"))),
        "{stderr}"
    );
}

#[test]
fn webhooks_are_added_listed_and_removed() {
    let db = Db::new();
    let added = db.json(&[
        "webhooks",
        "add",
        "https://shop.example/hooks",
        "--events",
        "redemption.succeeded,voucher.created",
        "--secret",
        "s3cret",
    ]);
    let id = text(&added, "id");
    assert!(id.starts_with("wh_"), "{added}");
    assert_eq!(text(&added, "secret"), "s3cret");
    assert_eq!(
        added["events"],
        serde_json::json!(["redemption.succeeded", "voucher.created"])
    );
    let generated = db.json(&[
        "webhooks",
        "add",
        "http://127.0.0.1:9/h",
        "--events",
        "campaign.created",
    ]);
    assert_eq!(text(&generated, "secret").len(), 64, "{generated}");
    let list = db.json(&["webhooks", "list"]);
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|w| w.get("secret").is_none()), "{list}");
    assert!(db
        .ok(&["webhooks", "list"])
        .contains("https://shop.example/hooks"));
    db.fails(
        &["webhooks", "add", "ftp://x/", "--events", "voucher.created"],
        2,
        "invalid_payload",
    );
    db.fails(
        &[
            "webhooks",
            "add",
            "https://x/",
            "--events",
            "voucher.updated",
        ],
        2,
        "invalid_payload",
    );
    db.ok(&["webhooks", "remove", &id]);
    assert_eq!(db.json(&["webhooks", "list"]).as_array().unwrap().len(), 1);
    let run = db.run(&["webhooks", "remove", &id]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.starts_with("error: not_found: "), "{run:?}");
}

/// One request a [`HookReceiver`] got: whether its signature checked out
/// under the secret, its body, and the status it was answered.
#[derive(Debug)]
struct Hook {
    signed: bool,
    body: Value,
    status: u16,
}

/// A minimal HTTP receiver on a thread: answers each POST with the next of
/// `statuses` (then 200), and sends what it got on a channel.
fn hook_receiver(
    secret: std::sync::Arc<std::sync::Mutex<String>>,
    statuses: Vec<u16>,
) -> (String, std::sync::mpsc::Receiver<Hook>) {
    use hmac::Mac;
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (sender, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut statuses = statuses.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut length, mut signature) = (0usize, String::new());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if let Some(v) = lower.strip_prefix("x-voucherify-signature:") {
                    signature = v.trim().to_owned();
                }
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let key = secret.lock().unwrap().clone();
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
            mac.update(&body);
            let expected: String = mac
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let status = statuses.next().unwrap_or(200);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.flush();
            drop(stream);
            let hook = Hook {
                signed: !key.is_empty() && signature == expected,
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                status,
            };
            if sender.send(hook).is_err() {
                return;
            }
        }
    });
    (url, received)
}

/// The "done when": a redemption made from the command line is
/// delivered by `voucher serve` to a real receiver with a valid signature;
/// the receiver fails the first attempt, the server is killed, and a new
/// server on the same file delivers the retry.
#[test]
fn serve_delivers_webhooks_retries_and_survives_a_restart() {
    let db = Db::new();
    db.ok(&[
        "campaign",
        "create",
        "--name",
        "Public",
        "--percent-off",
        "25",
        "--code",
        "FEEDMEHUMAN",
    ]);
    let secret = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (url, received) = hook_receiver(std::sync::Arc::clone(&secret), vec![500]);
    let hook = db.json(&["webhooks", "add", &url, "--events", "redemption.succeeded"]);
    *secret.lock().unwrap() = text(&hook, "secret");
    // Written to the outbox by the command line, with no server running.
    let redemption = db.json(&["redeem", "FEEDMEHUMAN", "--amount", "40.00"]);
    let wait = std::time::Duration::from_secs(60);
    // One public URL for both servers: the event links the voucher's
    // images under it, and the two would otherwise listen on other ports.
    let flags = [
        "--webhook-retry-delay",
        "2s",
        "--public-url",
        "https://vouchers.shop.example",
    ];
    let first = {
        let _server = Server::start_with(&db, &flags);
        received.recv_timeout(wait).expect("a first attempt")
        // Killed here, right after the failed attempt: if before the
        // server logged it, its lease (16 s) runs out first.
    };
    assert_eq!(first.status, 500);
    assert!(first.signed, "{first:?}");
    let _server = Server::start_with(&db, &flags);
    let second = received
        .recv_timeout(wait)
        .expect("the retry after a restart");
    assert_eq!(second.status, 200);
    assert!(second.signed, "{second:?}");
    assert_eq!(second.body, first.body, "the same event");
    assert_eq!(second.body["type"], "redemption.succeeded");
    assert_eq!(second.body["data"]["object"]["object"], "redemption");
    assert_eq!(second.body["data"]["object"]["id"], redemption["id"]);
}
