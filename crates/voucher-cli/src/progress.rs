//! Progress bars on long work (generating, importing, exporting codes), drawn
//! on stderr only when stderr is a terminal: a script or a pipe sees nothing.

use std::io::{IsTerminal, Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use voucher_core::port::{CampaignStore, ProjectId};
use voucher_store_sqlite::SqliteStore;

use crate::failure::Failure;

/// How often a generation's progress is read back from the store.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// What a bar counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Codes (rows).
    Codes,
    /// Bytes of a file.
    Bytes,
}

/// A bar of `total` units, or `None` when stderr is not a terminal.
pub fn bar(total: u64, unit: Unit) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(total);
    let template = match unit {
        Unit::Codes => {
            "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} codes ({eta} left)"
        }
        Unit::Bytes => {
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta} left)"
        }
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    Some(bar)
}

/// Generates `count` codes of the campaign, showing a bar while the store
/// works (it reports no progress itself: the bar reads the campaign's code
/// count back between the store's chunks).
pub fn generate_codes(
    store: &SqliteStore,
    project: ProjectId,
    campaign_id: &str,
    count: u64,
    seed: u64,
) -> Result<u64, Failure> {
    let now = chrono::Utc::now();
    let Some(bar) = bar(count, Unit::Codes) else {
        return Ok(store.generate_codes(project, campaign_id, count, seed, now)?);
    };
    let before = store.campaign(project, campaign_id)?.codes_count;
    let (done_tx, done_rx) = mpsc::channel();
    let worker = store.clone();
    let id = campaign_id.to_owned();
    std::thread::spawn(move || {
        let result = worker.generate_codes(project, &id, count, seed, now);
        let _ = done_tx.send(result);
    });
    let result = loop {
        match done_rx.recv_timeout(POLL_INTERVAL) {
            Ok(result) => break result,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(campaign) = store.campaign(project, campaign_id) {
                    bar.set_position(campaign.codes_count.saturating_sub(before).min(count));
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break Err(voucher_core::port::StoreError::Unavailable(
                    "the generating thread stopped".to_owned(),
                ))
            }
        }
    };
    match &result {
        Ok(made) => {
            bar.set_position(*made);
            bar.finish();
        }
        Err(_) => bar.abandon(),
    }
    Ok(result?)
}

/// A reader that moves a bar by the bytes read.
#[derive(Debug)]
pub struct ReadProgress<R> {
    /// The reader.
    pub inner: R,
    /// The bar, if any.
    pub bar: Option<ProgressBar>,
}

impl<R: Read> Read for ReadProgress<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}

/// A writer that counts the lines written and moves a bar by them (CSV
/// rows, near enough: a quoted cell may hold a line break).
#[derive(Debug)]
pub struct WriteProgress<W> {
    /// The writer.
    pub inner: W,
    /// The bar, if any.
    pub bar: Option<ProgressBar>,
    /// Lines written so far.
    pub lines: u64,
}

impl<W: Write> Write for WriteProgress<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let lines = buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        self.lines += lines;
        if let Some(bar) = &self.bar {
            bar.inc(lines);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
