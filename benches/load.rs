//! The HTTP load generator of `benches/load.sh` (which builds, prepares the
//! database, starts the servers and runs the phases; run that, not this).
//!
//! A plain harness (not criterion), three subcommands:
//!
//! - `run`: N keep-alive HTTP/1.1 connections (hyper's client, one request
//!   in flight per connection) send `POST`s to one server for a warm-up,
//!   then for a measured time; it records every measured request's latency
//!   (from sending the request to the last byte of its body) in an
//!   HdrHistogram, counts statuses, and appends one JSON line with
//!   requests/s, p50/p99/max, the statuses and the server's CPU time per
//!   request to `--out`. The path may hold `{code}`, replaced by a code of
//!   `--codes FILE` (one a line, or the first column of the CLI's CSV
//!   export) in turn, or by `--code`; with `--once` each code is sent at
//!   most once and the phase ends when they run out.
//! - `fsync`: the latency of a 4 KiB write followed by `fsync` (what
//!   SQLite calls at each WAL commit here), in a file of the given directory
//!   (the database's): rewrites of a preallocated file, then appends.
//! - `report`: reads those JSON lines, prints the table and the ratios to
//!   the baseline, checks the targets, and exits 1 on a 5xx, a failed
//!   connection, or a wrong count of successes.
//!
//! The server keys come from `VOUCHER_APP_ID` and `VOUCHER_APP_TOKEN`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{json, Value};

#[derive(Debug, Parser)]
#[command(about = "HTTP load generator; benches/load.sh runs it")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load one server and append the phase's figures to --out.
    Run(RunArgs),
    /// Measure 4 KiB write + fsync latency in a directory.
    Fsync(FsyncArgs),
    /// Print the table of a run's phases and check the targets.
    Report(ReportArgs),
}

#[derive(Debug, clap::Args)]
#[command(args_override_self = true)]
struct RunArgs {
    /// Name of the phase in the report.
    #[arg(long)]
    label: String,
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    url: String,
    /// The path; `{code}` is replaced by a code.
    #[arg(long, default_value = "/")]
    path: String,
    /// The request body.
    #[arg(long, default_value = r#"{"order":{"amount":4000}}"#)]
    body: String,
    /// Codes, one a line (a CSV export's first column; a `Code` header is skipped).
    #[arg(long)]
    codes: Option<PathBuf>,
    /// One code for every request.
    #[arg(long, conflicts_with = "codes")]
    code: Option<String>,
    /// Send each code at most once; the phase ends when they run out.
    #[arg(long)]
    once: bool,
    /// Keep-alive connections, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of warm-up (not measured).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Count the 2xx answers whose body contains this text.
    #[arg(long)]
    expect_contains: Option<String>,
    /// The server's process id, to read its CPU time from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Free text stored with the figures (e.g. the writer's batch size).
    #[arg(long, default_value = "")]
    note: String,
    /// The file the JSON line is appended to.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
struct FsyncArgs {
    /// The phase it is measured before (the report shows it beside it).
    #[arg(long)]
    label: String,
    /// The directory (the database's file system).
    #[arg(long)]
    dir: PathBuf,
    /// How many write + fsync, of each kind.
    #[arg(long, default_value_t = 500)]
    count: u32,
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
struct ReportArgs {
    /// The JSON lines of `run` and `fsync`.
    file: PathBuf,
    /// The hot code's quantity: exactly this many successes are expected.
    #[arg(long)]
    hot_quantity: u64,
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; this harness has nothing to run alone.
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let cli = Cli::parse_from(args);
    let result = match cli.command {
        None => {
            println!("load: nothing to run alone; `benches/load.sh` runs the HTTP load benchmark");
            return ExitCode::SUCCESS;
        }
        Some(Command::Run(args)) => run(&args),
        Some(Command::Fsync(args)) => fsync(&args),
        Some(Command::Report(args)) => report(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn append_line(out: &Path, line: &Value) -> Result<(), Error> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)?;
    writeln!(file, "{line}")?;
    Ok(())
}

/// User + system CPU time of a process, from /proc (Linux); `None` elsewhere.
fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces), from field 3 on.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(Duration::from_millis(ticks * 10))
}

/// What one connection saw in the measured window.
struct Tally {
    latency: Histogram<u64>,
    statuses: BTreeMap<u16, u64>,
    /// Every answer's status, warm-up included.
    all_statuses: BTreeMap<u16, u64>,
    /// Failed requests, warm-up included.
    all_errors: u64,
    /// The first body of each non-2xx status, for the report.
    samples: BTreeMap<u16, String>,
    contains: u64,
    errors: u64,
    first_error: Option<String>,
    last_done: Option<Instant>,
}

impl Tally {
    fn new() -> Result<Tally, Error> {
        Ok(Tally {
            // 1 µs to 60 s, 3 significant digits.
            latency: Histogram::new_with_bounds(1, 60_000_000, 3)?,
            statuses: BTreeMap::new(),
            all_statuses: BTreeMap::new(),
            all_errors: 0,
            samples: BTreeMap::new(),
            contains: 0,
            errors: 0,
            first_error: None,
            last_done: None,
        })
    }

    fn merge(&mut self, other: Tally) -> Result<(), Error> {
        self.latency.add(&other.latency)?;
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        for (status, count) in other.all_statuses {
            *self.all_statuses.entry(status).or_default() += count;
        }
        self.all_errors += other.all_errors;
        for (status, body) in other.samples {
            self.samples.entry(status).or_insert(body);
        }
        self.contains += other.contains;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.last_done = self.last_done.max(other.last_done);
        Ok(())
    }
}

/// The codes a phase draws from.
struct Codes {
    list: Vec<String>,
    next: AtomicUsize,
    once: bool,
}

impl Codes {
    fn take(&self) -> Option<&str> {
        if self.list.is_empty() {
            return Some("");
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if self.once {
            self.list.get(i).map(String::as_str)
        } else {
            Some(&self.list[i % self.list.len()])
        }
    }
}

fn read_codes(args: &RunArgs) -> Result<Vec<String>, Error> {
    if let Some(code) = &args.code {
        return Ok(vec![code.clone()]);
    }
    let Some(path) = &args.codes else {
        return Ok(Vec::new());
    };
    let text = std::fs::read_to_string(path)?;
    let codes: Vec<String> = text
        .lines()
        .filter_map(|line| line.split(',').next())
        .map(|code| code.trim().trim_matches('"').to_owned())
        .filter(|code| !code.is_empty() && code != "Code")
        .collect();
    if codes.is_empty() {
        return Err(format!("no codes in {}", path.display()).into());
    }
    Ok(codes)
}

struct Target {
    authority: String,
    path: String,
    body: Bytes,
    app_id: String,
    app_token: String,
    contains: Option<String>,
}

fn run(args: &RunArgs) -> Result<ExitCode, Error> {
    let authority = args
        .url
        .strip_prefix("http://")
        .ok_or("--url must start with http://")?
        .trim_end_matches('/')
        .to_owned();
    let codes = Arc::new(Codes {
        list: read_codes(args)?,
        next: AtomicUsize::new(0),
        once: args.once,
    });
    let target = Arc::new(Target {
        authority,
        path: args.path.clone(),
        body: Bytes::from(args.body.clone()),
        app_id: std::env::var("VOUCHER_APP_ID").unwrap_or_default(),
        app_token: std::env::var("VOUCHER_APP_TOKEN").unwrap_or_default(),
        contains: args.expect_contains.clone(),
    });
    // The generator takes one core at most; the server gets the rest.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let warmup = Duration::from_secs_f64(args.warmup);
    let duration = Duration::from_secs_f64(args.duration);
    let server_pid = args.server_pid.map(|pid| pid.to_string());
    let (tally, measured_from, cpu) = runtime.block_on(async {
        let start = Instant::now() + Duration::from_millis(200);
        let measure_from = start + warmup;
        let until = measure_from + duration;
        let mut tasks = Vec::with_capacity(args.connections);
        for _ in 0..args.connections {
            let (codes, target) = (Arc::clone(&codes), Arc::clone(&target));
            tasks.push(tokio::spawn(async move {
                connection(&target, &codes, start, measure_from, until).await
            }));
        }
        tokio::time::sleep_until(measure_from.into()).await;
        let cpu_from = server_pid.as_deref().and_then(cpu_time);
        let self_from = cpu_time("self");
        let mut tally = Tally::new()?;
        for task in tasks {
            tally.merge(task.await??)?;
        }
        let cpu_to = server_pid.as_deref().and_then(cpu_time);
        let self_to = cpu_time("self");
        let cpu = (
            cpu_from.zip(cpu_to).map(|(a, b)| b.saturating_sub(a)),
            self_from.zip(self_to).map(|(a, b)| b.saturating_sub(a)),
        );
        Ok::<_, Error>((tally, measure_from, cpu))
    })?;
    let requests = tally.latency.len();
    let elapsed = tally
        .last_done
        .map_or(Duration::ZERO, |last| {
            last.saturating_duration_since(measured_from)
        })
        .min(duration + Duration::from_secs(60));
    let seconds = elapsed.as_secs_f64().max(1e-9);
    let ms = |v: u64| v as f64 / 1000.0;
    let per_request_us = |cpu: Option<Duration>| {
        cpu.filter(|_| requests > 0)
            .map(|c| c.as_secs_f64() * 1e6 / requests as f64)
    };
    let statuses: BTreeMap<String, u64> = tally
        .statuses
        .iter()
        .map(|(s, c)| (s.to_string(), *c))
        .collect();
    let class = |statuses: &BTreeMap<u16, u64>, lo: u16| -> u64 {
        statuses
            .iter()
            .filter(|(s, _)| (lo..lo + 100).contains(*s))
            .map(|(_, c)| c)
            .sum()
    };
    let line = json!({
        "kind": "http",
        "label": args.label,
        "note": args.note,
        "connections": args.connections,
        "requests": requests,
        "seconds": seconds,
        "rps": requests as f64 / seconds,
        "p50_ms": ms(tally.latency.value_at_quantile(0.50)),
        "p99_ms": ms(tally.latency.value_at_quantile(0.99)),
        "max_ms": ms(tally.latency.max()),
        "mean_ms": tally.latency.mean() / 1000.0,
        "statuses": statuses,
        "s2xx": class(&tally.statuses, 200),
        "s4xx": class(&tally.statuses, 400),
        "s5xx": class(&tally.statuses, 500),
        "errors": tally.errors,
        "all_2xx": class(&tally.all_statuses, 200),
        "all_5xx": class(&tally.all_statuses, 500),
        "all_errors": tally.all_errors,
        "first_error": tally.first_error,
        "contains": tally.contains,
        "samples": tally.samples,
        "codes_used": codes.next.load(Ordering::Relaxed).min(codes.list.len()),
        "codes_ran_out": codes.once && codes.next.load(Ordering::Relaxed) >= codes.list.len(),
        "server_cpu_us_per_request": per_request_us(cpu.0),
        "client_cpu_us_per_request": per_request_us(cpu.1),
    });
    println!(
        "{:<16} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  {} requests, statuses {}, errors {}",
        args.label,
        requests as f64 / seconds,
        ms(tally.latency.value_at_quantile(0.50)),
        ms(tally.latency.value_at_quantile(0.99)),
        ms(tally.latency.max()),
        requests,
        line["statuses"],
        tally.errors,
    );
    append_line(&args.out, &line)?;
    Ok(ExitCode::SUCCESS)
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(authority: &str) -> Result<Sender, Error> {
    let stream = tokio::net::TcpStream::connect(authority).await?;
    stream.set_nodelay(true)?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// One keep-alive connection's loop: a request, its whole answer, the next.
async fn connection(
    target: &Target,
    codes: &Codes,
    start: Instant,
    measure_from: Instant,
    until: Instant,
) -> Result<Tally, Error> {
    let mut tally = Tally::new()?;
    let mut sender = connect(&target.authority).await?;
    tokio::time::sleep_until(start.into()).await;
    loop {
        if Instant::now() >= until {
            break;
        }
        let Some(code) = codes.take() else { break };
        let path = target.path.replace("{code}", code);
        let request = hyper::Request::post(path)
            .header(hyper::header::HOST, &target.authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header("x-app-id", &target.app_id)
            .header("x-app-token", &target.app_token)
            .body(Full::new(target.body.clone()))?;
        let sent = Instant::now();
        let answer = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, Error>((status, body))
        }
        .await;
        let done = Instant::now();
        let measured = sent >= measure_from;
        match answer {
            Ok((status, body)) => {
                *tally.all_statuses.entry(status).or_default() += 1;
                let success = (200..300).contains(&status);
                if !success {
                    tally.samples.entry(status).or_insert_with(|| {
                        String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
                    });
                }
                if !measured {
                    continue;
                }
                let micros =
                    u64::try_from(done.duration_since(sent).as_micros()).unwrap_or(u64::MAX);
                tally.latency.saturating_record(micros.max(1));
                *tally.statuses.entry(status).or_default() += 1;
                tally.last_done = Some(done);
                if let (true, Some(text)) = (success, &target.contains) {
                    if body.windows(text.len()).any(|w| w == text.as_bytes()) {
                        tally.contains += 1;
                    }
                }
            }
            Err(e) => {
                tally.all_errors += 1;
                tally.first_error.get_or_insert_with(|| e.to_string());
                if measured {
                    tally.errors += 1;
                }
                // The connection is gone; open another.
                sender = connect(&target.authority).await?;
            }
        }
    }
    Ok(tally)
}

fn fsync(args: &FsyncArgs) -> Result<ExitCode, Error> {
    use std::io::{Seek as _, SeekFrom};
    let path = args.dir.join("fsync-probe.tmp");
    let block = [0x5au8; 4096];
    // Rewrites of a preallocated file (as the WAL is reused after a
    // checkpoint), then appends that grow it (file-size metadata too).
    let measure = |append: bool| -> Result<Histogram<u64>, Error> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)?;
        if !append {
            for _ in 0..256 {
                file.write_all(&block)?;
            }
            file.sync_all()?;
        }
        let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        for i in 0..u64::from(args.count) {
            if !append {
                file.seek(SeekFrom::Start((i % 256) * 4096))?;
            }
            let started = Instant::now();
            file.write_all(&block)?;
            file.sync_all()?;
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            latency.saturating_record(micros.max(1));
        }
        Ok(latency)
    };
    let rewrite = measure(false)?;
    let append = measure(true)?;
    std::fs::remove_file(&path)?;
    let line = json!({
        "kind": "fsync",
        "label": args.label,
        "count": args.count,
        "rewrite_p50_us": rewrite.value_at_quantile(0.5),
        "rewrite_p99_us": rewrite.value_at_quantile(0.99),
        "rewrite_max_us": rewrite.max(),
        "append_p50_us": append.value_at_quantile(0.5),
        "append_p99_us": append.value_at_quantile(0.99),
        "append_max_us": append.max(),
    });
    println!(
        "fsync before {} (4 KiB write + fsync, {} each): rewrite p50 {} µs p99 {} µs; append p50 {} µs p99 {} µs",
        args.label,
        args.count,
        line["rewrite_p50_us"],
        line["rewrite_p99_us"],
        line["append_p50_us"],
        line["append_p99_us"]
    );
    append_line(&args.out, &line)?;
    Ok(ExitCode::SUCCESS)
}

fn report(args: &ReportArgs) -> Result<ExitCode, Error> {
    let text = std::fs::read_to_string(&args.file)?;
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let phase = |label: &str| {
        lines
            .iter()
            .find(|l| l["kind"] == "http" && l["label"] == label)
    };
    let fsync_before = |label: &str| {
        lines
            .iter()
            .find(|l| l["kind"] == "fsync" && l["label"] == label)
    };
    let baseline_rps = phase("baseline").and_then(|l| l["rps"].as_f64());
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    println!();
    println!(
        "| phase | requests/s | x baseline | p50 ms | p99 ms | max ms | requests | 2xx | 4xx | 5xx | errors | server CPU µs/req | generator CPU µs/req | fsync p50/p99 µs just before |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for line in lines.iter().filter(|l| l["kind"] == "http") {
        let rps = f(&line["rps"]);
        let ratio = baseline_rps.map_or(f64::NAN, |b| rps / b);
        let label = line["label"].as_str().unwrap_or("?");
        let fsync = fsync_before(label).map_or(String::new(), |fs| {
            format!("{} / {}", fs["rewrite_p50_us"], fs["rewrite_p99_us"])
        });
        println!(
            "| {} | {:.0} | {:.2}x | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {} |",
            label,
            rps,
            ratio,
            f(&line["p50_ms"]),
            f(&line["p99_ms"]),
            f(&line["max_ms"]),
            line["requests"],
            line["s2xx"],
            line["s4xx"],
            line["s5xx"],
            line["errors"],
            f(&line["server_cpu_us_per_request"]),
            f(&line["client_cpu_us_per_request"]),
            fsync,
        );
    }
    println!();
    for fs in lines.iter().filter(|l| l["kind"] == "fsync") {
        println!(
            "fsync before {} on the database's file system (4 KiB write + fsync, {} each): rewrite p50 {} µs, p99 {} µs; append p50 {} µs, p99 {} µs",
            fs["label"].as_str().unwrap_or("?"), fs["count"], fs["rewrite_p50_us"], fs["rewrite_p99_us"], fs["append_p50_us"], fs["append_p99_us"]
        );
    }

    // Correctness: exit 1 when one fails.
    let mut broken = Vec::new();
    for line in lines.iter().filter(|l| l["kind"] == "http") {
        let label = line["label"].as_str().unwrap_or("?");
        if line["all_5xx"].as_u64() != Some(0) {
            broken.push(format!(
                "{label}: {} 5xx answers ({})",
                line["all_5xx"], line["samples"]
            ));
        }
        if line["all_errors"].as_u64() != Some(0) {
            broken.push(format!(
                "{label}: {} failed requests ({})",
                line["all_errors"], line["first_error"]
            ));
        }
        if line["requests"].as_u64().unwrap_or(0) == 0 {
            broken.push(format!("{label}: no request measured"));
        }
        let all_ok = line["s2xx"] == line["requests"];
        if matches!(label, "baseline" | "validate" | "redeem" | "redeem-batch1") && !all_ok {
            broken.push(format!(
                "{label}: {} of {} requests succeeded ({})",
                line["s2xx"], line["requests"], line["samples"]
            ));
        }
        if label == "validate" && line["contains"] != line["requests"] {
            broken.push(format!(
                "validate: {} of {} answers were valid",
                line["contains"], line["requests"]
            ));
        }
    }
    // Every success counts, the warm-up's too.
    let hot_successes = phase("hot").and_then(|l| l["all_2xx"].as_u64());
    match hot_successes {
        Some(n) if n == args.hot_quantity => {}
        Some(n) => broken.push(format!(
            "hot: {n} successful redemptions in all, expected exactly {}",
            args.hot_quantity
        )),
        None => broken.push("hot: no count of successes".to_owned()),
    }

    // Targets: printed, not the exit code (the machine is shared and noisy).
    let rps = |label: &str| phase(label).map_or(f64::NAN, |l| f(&l["rps"]));
    let base = rps("baseline");
    let mut targets: Vec<(String, bool)> = Vec::new();
    let mut ratio_target = |name: &str, value: f64, min: f64| {
        targets.push((format!("{name}: {value:.2}x (>= {min}x)"), value >= min));
    };
    ratio_target("validate / baseline", rps("validate") / base, 0.5);
    ratio_target("durable redeem / baseline", rps("redeem") / base, 0.2);
    ratio_target("goal: durable redeem / baseline", rps("redeem") / base, 0.3);
    ratio_target(
        "durable redeem / one commit per redemption",
        rps("redeem") / rps("redeem-batch1"),
        5.0,
    );
    ratio_target("hot code / uniform redeem", rps("hot") / rps("redeem"), 0.8);
    let p99 = phase("redeem").map_or(f64::NAN, |l| f(&l["p99_ms"]));
    targets.push((
        format!("durable redeem p99: {p99:.2} ms (<= 15 ms)"),
        p99 <= 15.0,
    ));
    targets.push((
        format!(
            "hot code: {} successes (exactly {})",
            hot_successes.map_or("?".to_owned(), |n| n.to_string()),
            args.hot_quantity
        ),
        hot_successes == Some(args.hot_quantity),
    ));
    let no_5xx = lines
        .iter()
        .filter(|l| l["kind"] == "http")
        .all(|l| l["all_5xx"].as_u64() == Some(0) && l["all_errors"].as_u64() == Some(0));
    targets.push(("no 5xx and no failed request anywhere".to_owned(), no_5xx));
    println!();
    for (name, pass) in &targets {
        println!("{} {name}", if *pass { "pass" } else { "FAIL" });
    }
    if broken.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        println!();
        for problem in &broken {
            println!("broken: {problem}");
        }
        Ok(ExitCode::from(1))
    }
}
