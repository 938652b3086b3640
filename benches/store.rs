//! Store benchmarks: durable redemptions with group commit against one
//! commit per redemption, generating and persisting codes against a bare
//! INSERT of the same rows, and CSV export and import throughput and memory.
//!
//! A plain harness (not criterion): each scenario is a whole-system
//! measurement with its own baseline, run in the same process, one after
//! the other, so the ratios are fair on a noisy shared machine.
//!
//!     cargo bench --bench store                 # every scenario, default sizes
//!     cargo bench --bench store -- redeem       # one scenario
//!     cargo bench --bench store -- webhooks     # the outbox's cost on redemptions
//!     cargo bench --bench store -- redeem-side 256 # one side of it, to profile
//!     cargo bench --bench store -- rss 10000000 # peak RSS of export+import of N rows
//!
//! Figures go to docs/PERFORMANCE.md.

use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;
use voucher_core::code_pattern::CodeConfig;
use voucher_core::discount::{Discount, DiscountValue, Effect};
use voucher_core::money::{Currency, Money};
use voucher_core::order::Order;
use voucher_core::port::{
    BenefitSpec, BulkStore, CampaignSpec, CampaignStore, ChannelType, CheckoutMode,
    CheckoutRequest, CheckoutStore, ProjectId, ProjectSpec, ProjectStore, RedeemableRequest,
    StoreError, VoucherQuery, VoucherTemplate,
};
use voucher_core::validity::Validity;
use voucher_core::voucher::{
    Activity, CampaignKind, CampaignLimits, CampaignType, RedemptionQuantity,
};
use voucher_store_sqlite::{Options, SqliteStore};

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 1, 12, 0, 0).unwrap()
}

fn open(path: &Path, batch_max: usize) -> (SqliteStore, ProjectId) {
    let store = SqliteStore::open(
        path,
        Options {
            batch_max,
            ..Options::default()
        },
    )
    .unwrap();
    let project = match store.project_by_name("default").unwrap() {
        Some(p) => p.id,
        None => {
            let spec = ProjectSpec {
                name: "default".to_owned(),
                currency: Currency::EUR,
                time_zone: chrono_tz::Tz::UTC,
                stacking: Default::default(),
            };
            store.create_project(&spec, now()).unwrap().id
        }
    };
    (store, project)
}

fn campaign(name: &str, count: u64, quantity: RedemptionQuantity) -> CampaignSpec {
    let discount = Discount::new(
        DiscountValue::Percent {
            percent_off: Decimal::from(25),
            amount_limit: None,
        },
        Effect::ApplyToOrder,
    )
    .unwrap();
    CampaignSpec {
        name: name.to_owned(),
        description: None,
        campaign_type: CampaignType::DiscountCoupons,
        kind: CampaignKind::Static,
        activity: Activity::Enabled,
        validity: Validity::default(),
        time_zone: None,
        limits: CampaignLimits::default(),
        categories: Vec::new(),
        template: VoucherTemplate {
            benefit: BenefitSpec::Discount(discount),
            quantity,
            code_config: CodeConfig {
                prefix: Some("CAT-".to_owned()),
                length: Some(10),
                ..CodeConfig::default()
            },
        },
        vouchers_count: count,
        activity_duration_after_publishing: None,
        metadata: Default::default(),
    }
}

fn codes_of(path: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT code FROM vouchers ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn redeem_request(code: &str) -> CheckoutRequest {
    CheckoutRequest {
        mode: CheckoutMode::Legacy,
        redeemables: vec![RedeemableRequest {
            code: code.to_owned(),
            credits: None,
        }],
        order: Order {
            amount: Some(Money::from_minor(4000, Currency::EUR).unwrap()),
            ..Order::default()
        },
        order_status: None,
        customer: None,
        metadata: Default::default(),
        channel: ChannelType::Api,
        tracking_id: None,
        now: now(),
    }
}

/// CPU time the store's writer thread (`voucher-writer`) has used so far,
/// from /proc (Linux); zero where it cannot be read.
fn writer_cpu() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.trim() == "voucher-writer")
        })
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .sum()
}

/// Redeems every code once from `threads` threads; returns redemptions/s,
/// the mean batch size and the writer's CPU time per redemption.
fn redeem_all(
    store: &SqliteStore,
    project: ProjectId,
    codes: &[String],
    threads: usize,
) -> (f64, f64, Duration) {
    let next = AtomicUsize::new(0);
    let (commits0, jobs0) = store.writer_stats();
    let cpu0 = writer_cpu();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(code) = codes.get(i) else { break };
                match store.redeem(project, &redeem_request(code)) {
                    Ok(_) => {}
                    Err(StoreError::Refused { refusal, .. }) => panic!("{code} refused: {refusal}"),
                    Err(e) => panic!("{code}: {e}"),
                }
            });
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = writer_cpu().saturating_sub(cpu0);
    let (commits, jobs) = store.writer_stats();
    let batch = (jobs - jobs0) as f64 / (commits - commits0).max(1) as f64;
    let per = cpu / u32::try_from(codes.len().max(1)).unwrap_or(u32::MAX);
    (codes.len() as f64 / elapsed, batch, per)
}

/// The mean latency of a small write plus fsync in `dir`.
fn fsync_latency(dir: &Path) -> Duration {
    let path = dir.join("fsync.probe");
    let mut file = std::fs::File::create(&path).unwrap();
    let rounds = 200;
    let started = Instant::now();
    for _ in 0..rounds {
        file.write_all(&[0x5a; 512]).unwrap();
        file.sync_data().unwrap();
    }
    started.elapsed() / rounds
}

/// `sides`: the `batch_max` of each side to run (both by default; one
/// alone to profile it).
fn scenario_redeem(sides: &[usize]) {
    let threads = 64;
    let codes_n = 20_000;
    println!("## durable redemptions, {threads} concurrent redeemers, {codes_n} unique codes");
    let dir = tempfile::tempdir().unwrap();
    println!(
        "fsync latency (512 B write + fdatasync): {:?}",
        fsync_latency(dir.path())
    );
    let mut results = Vec::new();
    for (label, batch_max) in [("one commit per redemption", 1), ("group commit", 256)] {
        if !sides.contains(&batch_max) {
            continue;
        }
        let path = dir.path().join(format!("redeem-{batch_max}.db"));
        let (store, project) = open(&path, batch_max);
        let c = store
            .create_campaign(
                project,
                &campaign("Bench", codes_n, RedemptionQuantity::Limited(1)),
                now(),
            )
            .unwrap();
        store
            .generate_codes(project, &c.id, codes_n, 1, now())
            .unwrap();
        let codes = codes_of(&path);
        let (rate, batch, cpu) = redeem_all(&store, project, &codes, threads);
        println!(
            "{label}: {rate:.0} redemptions/s (mean batch {batch:.1}, writer CPU {:.0} µs a redemption)",
            cpu.as_secs_f64() * 1e6
        );
        results.push(rate);
    }
    if let [one, group] = results[..] {
        println!(
            "group commit / one commit per redemption: {:.1}x",
            group / one
        );
    }
}

/// The outbox's cost on the redemption path: the same durable redemptions
/// with no webhook endpoint, with one that receives other events only, and
/// with one that receives `redemption.succeeded` (one event row each).
fn scenario_webhooks() {
    use voucher_core::port::{WebhookSpec, WebhookStore};
    use voucher_core::webhook::EventType;
    let threads = 64;
    let codes_n = 20_000;
    println!("## webhook outbox on durable redemptions, {threads} redeemers, {codes_n} codes");
    let dir = tempfile::tempdir().unwrap();
    for (label, events) in [
        ("no endpoint", None),
        (
            "an endpoint for other events",
            Some(EventType::VoucherCreated),
        ),
        (
            "an endpoint for redemption.succeeded",
            Some(EventType::RedemptionSucceeded),
        ),
    ] {
        let path = dir.path().join(format!("webhooks-{}.db", label.len()));
        let (store, project) = open(&path, 256);
        if let Some(event) = events {
            let spec = WebhookSpec {
                url: "http://127.0.0.1:9/hook".to_owned(),
                events: vec![event],
                secret: "s".to_owned(),
            };
            store.add_webhook(project, &spec, now()).unwrap();
        }
        let c = store
            .create_campaign(
                project,
                &campaign("Bench", codes_n, RedemptionQuantity::Limited(1)),
                now(),
            )
            .unwrap();
        store
            .generate_codes(project, &c.id, codes_n, 1, now())
            .unwrap();
        let codes = codes_of(&path);
        let (rate, batch, cpu) = redeem_all(&store, project, &codes, threads);
        println!(
            "{label}: {rate:.0} redemptions/s (mean batch {batch:.1}, writer CPU {:.0} µs a redemption), backlog {}",
            cpu.as_secs_f64() * 1e6,
            store.webhook_backlog().unwrap()
        );
    }
}

fn scenario_codegen(n: u64) {
    println!("## generate and persist {n} unique codes");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("codegen.db");
    let (store, project) = open(&path, 256);
    let c = store
        .create_campaign(
            project,
            &campaign("Gen", n, RedemptionQuantity::Limited(1)),
            now(),
        )
        .unwrap();
    let started = Instant::now();
    let made = store.generate_codes(project, &c.id, n, 42, now()).unwrap();
    let generated = started.elapsed();
    assert_eq!(made, n);
    let codes = codes_of(&path);
    let distinct: std::collections::BTreeSet<&String> = codes.iter().collect();
    println!(
        "store.generate_codes: {:.2}s, {:.0} codes/s, {} duplicates",
        generated.as_secs_f64(),
        n as f64 / generated.as_secs_f64(),
        codes.len() - distinct.len()
    );
    drop(store);
    // Baseline: a bare INSERT of the same rows (the same columns, the same
    // index) into a fresh copy of the same table, in one transaction per
    // 5000 rows, like the generator.
    let base = dir.path().join("bare.db");
    let (store, project) = open(&base, 256);
    let c = store
        .create_campaign(
            project,
            &campaign("Gen", 0, RedemptionQuantity::Limited(1)),
            now(),
        )
        .unwrap();
    drop(store);
    let mut conn = rusqlite::Connection::open(&base).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536;
         PRAGMA wal_autocheckpoint=10000;",
    )
    .unwrap();
    let campaign_row: i64 = conn
        .query_row("SELECT id FROM campaigns WHERE ext_id = ?1", [&c.id], |r| {
            r.get(0)
        })
        .unwrap();
    let started = Instant::now();
    let mut next_id = 0u64;
    for chunk in codes.chunks(50_000) {
        let tx = conn.transaction().unwrap();
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO vouchers (project_id, ext_id, code, campaign_id, type,
                         quantity, active, metadata, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, 'DISCOUNT_VOUCHER', 1, 1, '{}', 0, 0)",
                )
                .unwrap();
            for code in chunk {
                // Time-ordered ids, as the store makes them.
                let ext_id = format!("v_{next_id:020}");
                next_id += 1;
                insert
                    .execute(rusqlite::params![project.0, ext_id, code, campaign_row])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let bare = started.elapsed();
    println!("bare INSERT of the same rows: {:.2}s", bare.as_secs_f64());
    println!(
        "generate_codes / bare INSERT: {:.2}x",
        generated.as_secs_f64() / bare.as_secs_f64()
    );
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn scenario_csv(n: u64) {
    println!("## CSV export and import of {n} vouchers");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("csv.db");
    let (store, project) = open(&path, 256);
    let c = store
        .create_campaign(
            project,
            &campaign("Csv", n, RedemptionQuantity::Limited(1)),
            now(),
        )
        .unwrap();
    store.generate_codes(project, &c.id, n, 3, now()).unwrap();
    let csv_path = dir.path().join("vouchers.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv_path).unwrap());
    let started = Instant::now();
    let rows = store
        .export_vouchers_csv(project, &VoucherQuery::default(), &mut out)
        .unwrap();
    out.flush().unwrap();
    let export = started.elapsed();
    println!(
        "export: {rows} rows in {:.2}s, {:.0} rows/s",
        export.as_secs_f64(),
        rows as f64 / export.as_secs_f64()
    );
    // Import the export into a second project of the same file.
    let spec = ProjectSpec {
        name: "import".to_owned(),
        currency: Currency::EUR,
        time_zone: chrono_tz::Tz::UTC,
        stacking: Default::default(),
    };
    let other = store.create_project(&spec, now()).unwrap().id;
    let mut input = std::io::BufReader::new(std::fs::File::open(&csv_path).unwrap());
    let cpu0 = writer_cpu();
    let (commits0, _) = store.writer_stats();
    let started = Instant::now();
    let report = store
        .import_vouchers_csv(other, None, &mut input, now())
        .unwrap();
    let import = started.elapsed();
    let cpu = writer_cpu().saturating_sub(cpu0);
    let (commits, _) = store.writer_stats();
    println!(
        "import: {} rows ({} refused) in {:.2}s, {:.0} rows/s \
         ({} commits, writer CPU {:.1} µs a row)",
        report.done_count,
        report.failed.len(),
        import.as_secs_f64(),
        report.done_count as f64 / import.as_secs_f64(),
        commits - commits0,
        cpu.as_secs_f64() * 1e6 / report.done_count.max(1) as f64
    );
    println!("peak RSS of this process: {} MiB", peak_rss_kib() / 1024);
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let which = args.first().map(String::as_str).unwrap_or("all");
    let n = |default: u64| args.get(1).and_then(|v| v.parse().ok()).unwrap_or(default);
    match which {
        "redeem" => scenario_redeem(&[1, 256]),
        // One side alone, for a profiler: `redeem-side 256`.
        "redeem-side" => scenario_redeem(&[usize::try_from(n(256)).unwrap_or(256)]),
        "webhooks" => scenario_webhooks(),
        "codegen" => scenario_codegen(n(1_000_000)),
        "csv" => scenario_csv(n(1_000_000)),
        "rss" => scenario_csv(n(10_000_000)),
        _ => {
            scenario_redeem(&[1, 256]);
            scenario_codegen(1_000_000);
            scenario_csv(1_000_000);
        }
    }
}
