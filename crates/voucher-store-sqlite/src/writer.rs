//! The single writer and its group commit.
//!
//! One thread owns the only write connection. Callers send it jobs; it takes
//! the first job waiting, then every job already queued behind it (up to
//! `batch_max`; when that is less than half its last batch, it waits up to
//! [`GATHER_WAIT`] for more), runs them all in one `BEGIN IMMEDIATE`
//! transaction, commits
//! once, and only then answers each caller. A failed commit fails the whole
//! batch and no caller is told "done". With `synchronous=FULL` an answer
//! waits until its commit is durable, so an acknowledged redemption
//! survives a crash or power loss: under group commit a second thread, the
//! syncer, fsyncs the WAL and then answers (see [`Sync::Syncer`]), while
//! the writer already runs the next batch; with `batch_max = 1` the commit
//! syncs itself, each before the next begins (the design group commit is
//! measured against).
//!
//! The cost of one fsync is shared by every request in the batch: under
//! load the batches grow by themselves, which is what makes durable
//! redemptions fast (see docs/PERFORMANCE.md).
//!
//! A job that returns `Err` (or panics) must leave no write behind, without
//! undoing the others. Jobs run without savepoints (a savepoint copies every
//! page a job changes, in memory, to be able to undo it: that was a tenth of
//! the writer's time): when a job fails, the writer rolls the transaction
//! back, answers that job with its error, and runs the rest of the batch
//! again in a new transaction. The outcome is that of running the jobs one
//! after the other, the failed one undone: each job before it runs again on
//! the same state, and each job after it runs on the state without it. This
//! is why [`Writer::write`] takes an `FnMut`: a job may run more than once,
//! and only its last run counts, so it must not act outside the
//! transaction. Failures are rare (a refused redemption is an answer, not
//! an `Err`), so the re-runs cost little.
//!
//! A bulk job (tens of thousands of rows, see [`Writer::write_alone`]) always
//! runs alone, once.
//!
//! The writer's page cache follows its work: small while it runs checkout
//! batches, large while it runs bulk jobs (see [`BATCH_CACHE_KIB`]).
//!
//! Without the syncer the writer answers its callers itself: handing only
//! the answers to a second thread saved the writer the wake-ups (~6% of its
//! time) but made its batches smaller (the callers then came back while it
//! already ran the next batch): a mean batch of 32-36 instead of 54-61, and
//! more writer time per redemption in all. The syncer makes batches as
//! small (30-32 in the store bench), but takes the fsync off the writer's
//! path, and that pays: 18-26k against 12-22k redemptions/s in the store
//! bench, +2 to +14% over HTTP (docs/PERFORMANCE.md).

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use voucher_core::port::{BatchSizes, StoreError};

use crate::checkpoint::{self, Checkpoints};
use crate::error::SqlResult;

type Output = Result<Box<dyn Any + Send>, StoreError>;

/// What a job runs.
enum Work {
    /// Shares its transaction, and may run again (see the module's doc).
    Batched(Box<dyn FnMut(&Connection) -> Output + Send>),
    /// Runs once, in a transaction of its own.
    Alone(Box<dyn FnOnce(&Connection) -> Output + Send>),
}

struct Job {
    work: Work,
    reply: Reply,
}

/// Who waits for a job's output.
enum Reply {
    /// A thread blocked in [`Writer::write`] or [`Writer::write_alone`].
    Wait(SyncSender<Output>),
    /// A callback ([`Writer::write_then`]), called on the writer thread.
    Call(Box<dyn FnOnce(Output) + Send>),
}

impl Reply {
    fn send(self, output: Output) {
        match self {
            // A caller gone away (its thread ended) needs no answer.
            Reply::Wait(sender) => {
                let _ = sender.send(output);
            }
            // A panicking callback must not take the writer down with it.
            Reply::Call(call) => {
                let _ = catch_unwind(AssertUnwindSafe(move || call(output)));
            }
        }
    }
}

impl Job {
    fn alone(&self) -> bool {
        matches!(self.work, Work::Alone(_))
    }
}

/// How long the writer waits for more jobs when fewer are queued than half
/// its last batch: under load, the callers its last commit answered are on
/// their way back, and one commit for more of them saves a commit's fixed
/// cost (its fsync above all). At most one wait a batch; never with
/// `batch_max = 1`, nor when the last batch was of one or two jobs. Its
/// effect was not measured apart from the other changes of the same commit
/// (see docs/PERFORMANCE.md).
const GATHER_WAIT: Duration = Duration::from_micros(200);

/// The fewest jobs the writer's queue holds, whatever `batch_max`.
const QUEUE_MIN: usize = 1024;

/// The writer connection's page cache while it runs batches, in KiB.
///
/// At each commit SQLite walks the whole hash table of the connection's
/// page cache when the transaction split a B-tree page (`balance_nonroot`
/// renumbers pages through the never-used lock page, past the end of any
/// file under 1 GiB, and `pager_end_transaction` then truncates the cache
/// past the file's end). The table grows with the pages cached and never
/// shrinks: at 64 MiB it was 16 384 slots, and the walk 3-4% of all the
/// samples of the store bench's durable redemptions. Checkout batches touch a few pages
/// each, which the OS keeps in its own cache anyway.
pub(crate) const BATCH_CACHE_KIB: u32 = 8 * 1024;

/// The page cache while it runs bulk jobs (code generation, imports), in
/// KiB: the code index of a large campaign must stay cached, or each random
/// code costs a read (1M generated codes took 11.3 s with 8 MiB, 7.2 s
/// with 64).
pub(crate) const BULK_CACHE_KIB: u32 = 64 * 1024;

/// Opens a new connection to the writer's database, configured as the
/// first one. The writer opens one after bulk jobs, so that checkout
/// batches run again with a small page-cache hash (see [`BATCH_CACHE_KIB`]).
pub(crate) type Reopen = Box<dyn Fn() -> Result<Connection, StoreError> + Send>;

/// What the writer's page cache is sized for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sized {
    Batches,
    Bulk,
}

/// Callers to answer, with their answers.
type Answers = Vec<(Reply, Output)>;

/// Who makes a commit durable before its callers hear of it.
#[derive(Debug, Clone)]
pub(crate) enum Sync {
    /// The commit itself, as the connection's `synchronous` says (FULL:
    /// SQLite syncs the WAL in `COMMIT`; NORMAL: nobody, by choice).
    AtCommit,
    /// The syncer thread, which syncs this WAL file (`<database>-wal`)
    /// and then answers: the writer's commits no longer sync (its
    /// connection runs at `synchronous=NORMAL`), so that it runs the next
    /// batch while the last one's fsync is under way. Every commit answered
    /// was written to the WAL before an fsync of it began, so an answered
    /// write is as durable as with FULL; and since each WAL frame carries a
    /// checksum of all those before it, a power loss can only cut the log
    /// after the last fsync, never make a hole in it.
    Syncer(PathBuf),
}

/// Makes `COMMIT` leave the WAL unsynced: `synchronous=NORMAL`, which
/// still syncs at checkpoints and when the WAL starts over.
fn commit_without_sync(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "synchronous", "NORMAL").store()
}

/// The thread that syncs the WAL and then answers (see [`Sync::Syncer`]).
///
/// After a failed fsync nothing is answered "done" again: the kernel may
/// have dropped the pages it could not write and report the next fsync as
/// a success, while the WAL's frames after the lost ones are unreadable
/// without them (SQLite's own commit fails and forgets its frames when its
/// fsync fails; here they were already committed). So the first failure
/// is kept, every later answer is that error, and the writer stops running
/// jobs ([`Syncer::failed`]); a restart reads the WAL back as it is.
struct Syncer {
    sender: Option<std::sync::mpsc::Sender<Answers>>,
    thread: Option<JoinHandle<()>>,
    failed: Arc<OnceLock<StoreError>>,
}

impl Syncer {
    /// `None` when the thread cannot start (the writer then syncs at
    /// commit, as configured).
    fn start(wal: PathBuf) -> Option<Syncer> {
        let (sender, receiver) = std::sync::mpsc::channel::<Answers>();
        let failed: Arc<OnceLock<StoreError>> = Arc::new(OnceLock::new());
        let failure = Arc::clone(&failed);
        let thread = std::thread::Builder::new()
            .name("voucher-sync".to_owned())
            .spawn(move || {
                while let Ok(mut answers) = receiver.recv() {
                    // Everything committed so far shares this fsync.
                    while let Ok(more) = receiver.try_recv() {
                        answers.extend(more);
                    }
                    let synced = match failure.get() {
                        Some(first) => Err(first.clone()),
                        None => sync_file(&wal).inspect_err(|e| {
                            let _ = failure.set(e.clone());
                        }),
                    };
                    match synced {
                        Ok(()) => answer(answers),
                        Err(e) => answer(
                            answers
                                .into_iter()
                                .map(|(reply, output)| (reply, output.and(Err(e.clone()))))
                                .collect(),
                        ),
                    }
                }
            })
            .ok()?;
        Some(Syncer {
            sender: Some(sender),
            thread: Some(thread),
            failed,
        })
    }

    /// The first failed fsync, if one failed: the writer then answers
    /// every job with it instead of running it.
    fn failed(&self) -> Option<StoreError> {
        self.failed.get().cloned()
    }

    /// Answers `answers` once what was committed before is durable.
    fn deliver(&self, answers: Answers) {
        let Some(sender) = &self.sender else {
            return answer(answers);
        };
        if let Err(refused) = sender.send(answers) {
            // The thread is gone (it cannot panic, but if it did): answer
            // without a promise of durability that nobody kept.
            answer(
                refused
                    .0
                    .into_iter()
                    .map(|(reply, output)| {
                        let lost = StoreError::Io("the WAL syncer stopped".to_owned());
                        (reply, output.and(Err(lost)))
                    })
                    .collect(),
            );
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// fsync of the WAL file at `wal`, opened anew each time: SQLite deletes
/// the WAL only when its last connection closes, after checkpointing all
/// of it into the database file and syncing that, so a WAL that is not
/// there has nothing left to sync.
fn sync_file(wal: &Path) -> Result<(), StoreError> {
    match std::fs::File::open(wal) {
        Ok(file) => file
            .sync_all()
            .map_err(|e| StoreError::Io(format!("syncing the WAL: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::Io(format!("opening the WAL to sync it: {e}"))),
    }
}

/// The handle to the writer thread.
pub(crate) struct Writer {
    sender: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

/// Figures of the writer, for metrics and benchmarks.
#[derive(Debug, Default)]
pub(crate) struct WriterStats {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Jobs run.
    pub jobs: AtomicU64,
    /// Batches run, by size: see [`BatchSizes::counts`].
    sizes: [AtomicU64; 9],
    /// Batches of more than 256 jobs.
    over: AtomicU64,
    /// Batches run.
    batches: AtomicU64,
    /// Jobs in those batches (jobs that failed alone are not in any).
    batched_jobs: AtomicU64,
}

impl WriterStats {
    /// Counts a batch of `jobs` jobs, ended by a commit or a rollback.
    fn batch(&self, jobs: usize) {
        let jobs = jobs as u64;
        self.jobs.fetch_add(jobs, Relaxed);
        self.batched_jobs.fetch_add(jobs, Relaxed);
        self.batches.fetch_add(1, Relaxed);
        match BatchSizes::BOUNDS.iter().position(|&bound| jobs <= bound) {
            Some(i) => self.sizes[i].fetch_add(1, Relaxed),
            None => self.over.fetch_add(1, Relaxed),
        };
    }

    /// The batch sizes so far.
    pub(crate) fn batch_sizes(&self) -> BatchSizes {
        BatchSizes {
            counts: std::array::from_fn(|i| self.sizes[i].load(Relaxed)),
            over: self.over.load(Relaxed),
            batches: self.batches.load(Relaxed),
            writes: self.batched_jobs.load(Relaxed),
        }
    }
}

impl Writer {
    /// Starts the writer thread on `conn`.
    /// `reopen`, when given, opens another connection to the same file
    /// (`None` for a database without a file).
    pub(crate) fn start(
        conn: Connection,
        reopen: Option<Reopen>,
        batch_max: usize,
        sync: Sync,
        stats: std::sync::Arc<WriterStats>,
    ) -> Result<Writer, StoreError> {
        // Room for many batches, and never little: an async caller
        // (`write_then`) blocks its thread while the queue is full.
        let (sender, receiver) = sync_channel::<Job>((batch_max.max(1) * 4).max(QUEUE_MIN));
        let thread = std::thread::Builder::new()
            .name("voucher-writer".to_owned())
            .spawn(move || run(conn, reopen, receiver, batch_max.max(1), sync, &stats))
            .map_err(|e| StoreError::Io(format!("starting the writer: {e}")))?;
        Ok(Writer {
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    /// Runs `work` in the next batch and waits until that batch committed.
    /// `Err` from `work` rolls back its own writes only.
    /// `work` may run more than once (only its last run counts: see the
    /// module's doc), so it must not act outside the transaction.
    pub(crate) fn write<T, F>(&self, mut work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(Work::Batched(Box::new(move |conn| {
            work(conn).map(|t| Box::new(t) as Box<dyn Any + Send>)
        })))
    }

    /// Like [`Writer::write`], in a transaction of its own: for bulk jobs,
    /// which would make a batch's savepoint copy every page they change.
    pub(crate) fn write_alone<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(Work::Alone(Box::new(move |conn| {
            work(conn).map(|t| Box::new(t) as Box<dyn Any + Send>)
        })))
    }

    /// Like [`Writer::write`], without waiting: `reply` gets the output on
    /// the writer thread once the batch committed (or failed), so it must be
    /// quick (hand the output over, nothing more). The caller blocks only
    /// while the writer's queue is full.
    pub(crate) fn write_then<T, F>(
        &self,
        mut work: F,
        reply: Box<dyn FnOnce(Result<T, StoreError>) + Send>,
    ) where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.enqueue(Job {
            work: Work::Batched(Box::new(move |conn| {
                work(conn).map(|t| Box::new(t) as Box<dyn Any + Send>)
            })),
            reply: Reply::Call(Box::new(move |output| reply(output.and_then(unbox)))),
        });
    }

    fn submit<T: Send + 'static>(&self, work: Work) -> Result<T, StoreError> {
        let (reply, answer) = sync_channel(1);
        self.enqueue(Job {
            work,
            reply: Reply::Wait(reply),
        });
        let output = answer
            .recv()
            .map_err(|_| StoreError::Unavailable("the writer stopped".to_owned()))?;
        output.and_then(unbox)
    }

    /// Queues `job`; when the writer is gone, answers it with the error.
    fn enqueue(&self, job: Job) {
        let Some(sender) = self.sender.as_ref() else {
            job.reply.send(Err(StoreError::Unavailable(
                "the store is closed".to_owned(),
            )));
            return;
        };
        if let Err(refused) = sender.send(job) {
            refused.0.reply.send(Err(StoreError::Unavailable(
                "the writer stopped".to_owned(),
            )));
        }
    }
}

/// A job's output as the type its caller expects.
fn unbox<T: 'static>(boxed: Box<dyn Any + Send>) -> Result<T, StoreError> {
    boxed
        .downcast::<T>()
        .map(|t| *t)
        .map_err(|_| StoreError::Io("writer answered with the wrong type".to_owned()))
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel lets the thread finish the jobs queued, commit
        // and return.
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(
    mut conn: Connection,
    reopen: Option<Reopen>,
    receiver: Receiver<Job>,
    batch_max: usize,
    sync: Sync,
    stats: &WriterStats,
) {
    // The syncer, when there is one: the commits stop syncing the WAL
    // themselves, and every answer goes through it.
    let syncer = match sync {
        Sync::AtCommit => None,
        Sync::Syncer(wal) => Syncer::start(wal),
    };
    if syncer.is_some() {
        // On failure it stays FULL: each commit synced twice, slower but
        // never less safe.
        let _ = commit_without_sync(&conn);
    }
    let deliver = |answers: Answers| match &syncer {
        Some(syncer) => syncer.deliver(answers),
        None => answer(answers),
    };
    // Stopped (its thread joined) before `conn` closes, so that the
    // writer's is the last connection and its close checkpoints the WAL.
    let mut checkpoints = Checkpoints::start(&conn);
    let _ = conn.pragma_update(None, "cache_size", -i64::from(BATCH_CACHE_KIB));
    let mut sized = Sized::Batches;
    // A job that must run alone, met while gathering a batch: it is the
    // next batch.
    let mut held: Option<Job> = None;
    // The size of the last batch: about as many callers are on their way
    // back with their next job.
    let mut last = 1;
    loop {
        let first = match held.take() {
            Some(job) => job,
            None => match receiver.recv() {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        let mut batch = vec![first];
        // Take what is queued; if that is less than half the last batch,
        // wait a little for the rest (see `GATHER_WAIT`).
        let mut deadline: Option<Instant> = None;
        while !batch[0].alone() && batch.len() < batch_max && held.is_none() {
            let next = match deadline {
                None => receiver.try_recv().map_err(|_| ()),
                Some(deadline) => receiver
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    .map_err(|_| ()),
            };
            match next {
                Ok(job) if job.alone() => held = Some(job),
                Ok(job) => batch.push(job),
                Err(()) if deadline.is_none() && batch.len() * 2 < last => {
                    deadline = Some(Instant::now() + GATHER_WAIT);
                }
                Err(()) => break,
            }
            if deadline.is_some() && batch.len() >= last {
                break;
            }
        }
        last = batch.len();
        let wanted = if batch[0].alone() {
            Sized::Bulk
        } else {
            Sized::Batches
        };
        if wanted != sized {
            conn = size_cache(conn, wanted, reopen.as_ref());
            if syncer.is_some() {
                // A new connection syncs at commit until told otherwise;
                // if this fails it merely syncs twice.
                let _ = commit_without_sync(&conn);
            }
            sized = wanted;
        }
        if let Some(error) = syncer.as_ref().and_then(Syncer::failed) {
            answer(all_failed(batch, &error));
            continue;
        }
        run_batch(&conn, batch, stats, &deliver);
        // After the answers: a checkpoint to ask for, or the end of one
        // to run (see `checkpoint`).
        checkpoints.after_commit(&conn, sized == Sized::Bulk);
    }
    drop(checkpoints);
    // Every answer is out before the connection closes.
    drop(syncer);
}

/// Sizes the page cache of `conn` for `wanted`. From bulk jobs back to
/// batches, a new connection replaces `conn` when `reopen` can open one:
/// only a new connection has a small page-cache hash again.
fn size_cache(conn: Connection, wanted: Sized, reopen: Option<&Reopen>) -> Connection {
    let (conn, kib) = match wanted {
        Sized::Bulk => (conn, BULK_CACHE_KIB),
        Sized::Batches => match reopen.map(|open| open()) {
            Some(Ok(fresh)) => {
                checkpoint::attach(&fresh);
                (fresh, BATCH_CACHE_KIB)
            }
            // The old connection serves on, its cache merely smaller.
            _ => (conn, BATCH_CACHE_KIB),
        },
    };
    // A failure leaves the cache as it was: slower, never wrong.
    let _ = conn.pragma_update(None, "cache_size", -i64::from(kib));
    conn
}

/// Runs one statement of the writer's own (`BEGIN IMMEDIATE`, `COMMIT`,
/// `ROLLBACK`), prepared once: `execute_batch` parsed it anew every batch.
fn exec(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute([]))
        .map(|_| ())
        .store()
}

/// Every job of `batch` answered with `error`.
fn all_failed(batch: Vec<Job>, error: &StoreError) -> Answers {
    batch
        .into_iter()
        .map(|job| (job.reply, Err(error.clone())))
        .collect()
}

fn answer(answers: Answers) {
    for (reply, output) in answers {
        reply.send(output);
    }
}

/// Runs `batch` in one transaction and commits it. A job that fails is
/// answered with its error, the transaction rolled back and the rest of
/// the batch run again in a new one.
fn run_batch(
    conn: &Connection,
    mut batch: Vec<Job>,
    stats: &WriterStats,
    deliver: &dyn Fn(Answers),
) {
    loop {
        if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
            stats.batch(batch.len());
            deliver(all_failed(batch, &e));
            return;
        }
        let mut outputs = Vec::with_capacity(batch.len());
        let mut failed: Option<(usize, StoreError)> = None;
        for (i, job) in batch.iter_mut().enumerate() {
            let output = run_job(conn, &mut job.work);
            match output {
                // Some errors (a full disk, I/O errors) make SQLite roll
                // back the whole transaction by itself.
                Ok(_) if conn.is_autocommit() => {
                    failed = Some((
                        i,
                        StoreError::Io("the transaction was rolled back".to_owned()),
                    ));
                    break;
                }
                Ok(output) => outputs.push(output),
                Err(e) => {
                    failed = Some((i, e));
                    break;
                }
            }
        }
        let Some((i, error)) = failed else {
            stats.batch(batch.len());
            let committed = exec(conn, "COMMIT");
            if committed.is_ok() {
                stats.commits.fetch_add(1, Relaxed);
            } else {
                let _ = exec(conn, "ROLLBACK");
            }
            deliver(match committed {
                Ok(()) => batch
                    .into_iter()
                    .zip(outputs)
                    .map(|(job, output)| (job.reply, Ok(output)))
                    .collect(),
                Err(e) => all_failed(batch, &e),
            });
            return;
        };
        // SQLite rolled back by itself: no job of the batch is done, and
        // the cause (a full disk, an I/O error) would fail the rest alike.
        let aborted = conn.is_autocommit();
        if !aborted {
            let _ = exec(conn, "ROLLBACK");
        }
        if aborted || batch.len() == 1 {
            stats.batch(batch.len());
            deliver(all_failed(batch, &error));
            return;
        }
        let job = batch.remove(i);
        stats.jobs.fetch_add(1, Relaxed);
        job.reply.send(Err(error));
    }
}

/// Runs one job; a panic is its failure.
fn run_job(conn: &Connection, work: &mut Work) -> Output {
    let run = AssertUnwindSafe(|| match work {
        Work::Batched(work) => work(conn),
        Work::Alone(work) => {
            // Runs once: what is left in its place fails if run again.
            let work = std::mem::replace(
                work,
                Box::new(|_| Err(StoreError::Io("a write job ran twice".to_owned()))),
            );
            work(conn)
        }
    });
    match catch_unwind(run) {
        Ok(output) => output,
        Err(_) => Err(StoreError::Io("a write job panicked".to_owned())),
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn writer(dir: &tempfile::TempDir) -> (Writer, Arc<WriterStats>) {
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER NOT NULL);")
            .unwrap();
        let stats = Arc::new(WriterStats::default());
        (
            Writer::start(conn, None, 64, Sync::AtCommit, Arc::clone(&stats)).unwrap(),
            stats,
        )
    }

    fn insert(conn: &Connection, v: i64) -> Result<(), StoreError> {
        conn.execute("INSERT INTO t (v) VALUES (?1)", [v])
            .store()
            .map(|_| ())
    }

    fn values(writer: &Writer) -> Vec<i64> {
        writer
            .write(|conn| {
                let mut stmt = conn.prepare("SELECT v FROM t ORDER BY v").store()?;
                let rows = stmt.query_map([], |r| r.get(0)).store()?;
                rows.collect::<Result<Vec<i64>, _>>().store()
            })
            .unwrap()
    }

    fn cache_kib(conn: &Connection) -> Result<i64, StoreError> {
        conn.pragma_query_value(None, "cache_size", |r| r.get::<_, i64>(0))
            .store()
            .map(|pages_or_kib| -pages_or_kib)
    }

    /// Batches run with the small page cache, bulk jobs with the large one,
    /// and each return from bulk jobs to batches is on a new connection
    /// that sees everything committed before.
    #[test]
    fn the_page_cache_follows_the_kind_of_job() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER NOT NULL);")
            .unwrap();
        let opened = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&opened);
        let reopen: Reopen = Box::new(move || {
            count.fetch_add(1, Relaxed);
            Connection::open(&path).store()
        });
        let stats = Arc::new(WriterStats::default());
        let writer = Writer::start(conn, Some(reopen), 64, Sync::AtCommit, stats).unwrap();

        let batch = || writer.write(cache_kib).unwrap();
        let bulk = || writer.write_alone(cache_kib).unwrap();
        assert_eq!(batch(), i64::from(BATCH_CACHE_KIB));
        assert_eq!(opened.load(Relaxed), 0);
        writer.write_alone(|c| insert(c, 1)).unwrap();
        assert_eq!(bulk(), i64::from(BULK_CACHE_KIB));
        // Back to batches: one new connection, with the small cache.
        writer.write(|c| insert(c, 2)).unwrap();
        assert_eq!(opened.load(Relaxed), 1);
        assert_eq!(batch(), i64::from(BATCH_CACHE_KIB));
        writer.write_alone(|c| insert(c, 3)).unwrap();
        assert_eq!(values(&writer), [1, 2, 3]);
        assert_eq!(opened.load(Relaxed), 2);
    }

    /// A file database with table `t`, in WAL mode, and a way to reopen it.
    fn wal_database(dir: &tempfile::TempDir) -> (Connection, Reopen, PathBuf) {
        let path = dir.path().join("s.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER NOT NULL);")
            .unwrap();
        let again = path.clone();
        (
            conn,
            Box::new(move || Connection::open(&again).store()),
            path,
        )
    }

    fn synchronous(conn: &Connection) -> Result<i64, StoreError> {
        conn.pragma_query_value(None, "synchronous", |r| r.get(0))
            .store()
    }

    /// With the syncer, commits leave the WAL to it (NORMAL, on every
    /// connection the writer opens), and every answer waits for its
    /// fsync: when the WAL cannot be synced, nobody hears "done".
    #[test]
    fn with_the_syncer_answers_wait_for_the_wal_fsync() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, reopen, path) = wal_database(&dir);
        let stats = Arc::new(WriterStats::default());
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        let writer = Writer::start(conn, Some(reopen), 64, Sync::Syncer(wal), stats).unwrap();
        const NORMAL: i64 = 1;
        assert_eq!(writer.write(synchronous), Ok(NORMAL));
        writer.write(|c| insert(c, 1)).unwrap();
        writer.write_alone(|c| insert(c, 2)).unwrap();
        // Back from a bulk job on a new connection: NORMAL again.
        assert_eq!(writer.write(synchronous), Ok(NORMAL));
        assert_eq!(values(&writer), [1, 2]);
        // A job's own error is its answer, as without the syncer.
        assert_eq!(
            writer.write(|_| Err::<(), _>(StoreError::Io("no".to_owned()))),
            Err(StoreError::Io("no".to_owned()))
        );
        drop(writer);

        // Without the syncer the connection keeps its setting (FULL).
        let (conn, reopen, _) = wal_database(&tempfile::tempdir().unwrap());
        let stats = Arc::new(WriterStats::default());
        let writer = Writer::start(conn, Some(reopen), 64, Sync::AtCommit, stats).unwrap();
        const FULL: i64 = 2;
        assert_eq!(writer.write(synchronous), Ok(FULL));
        drop(writer);

        // A WAL path that cannot be opened (under a plain file): the jobs
        // commit, but their callers get the sync's error, never success.
        let dir = tempfile::tempdir().unwrap();
        let (conn, reopen, _) = wal_database(&dir);
        let blocker = dir.path().join("plain-file");
        std::fs::write(&blocker, b"").unwrap();
        let stats = Arc::new(WriterStats::default());
        let writer = Writer::start(
            conn,
            Some(reopen),
            64,
            Sync::Syncer(blocker.join("s.db-wal")),
            stats,
        )
        .unwrap();
        match writer.write(|c| insert(c, 3)) {
            Err(StoreError::Io(message)) => assert!(message.contains("WAL"), "{message}"),
            other => panic!("answered {other:?} without a synced WAL"),
        }
        // The WAL's path works again (a WAL that is not there has nothing
        // to sync), but after a failed fsync nothing is "done" any more,
        // and no job runs.
        std::fs::remove_file(&blocker).unwrap();
        let ran = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&ran);
        match writer.write(move |c| {
            count.fetch_add(1, Relaxed);
            insert(c, 4)
        }) {
            Err(StoreError::Io(message)) => assert!(message.contains("WAL"), "{message}"),
            other => panic!("answered {other:?} after a failed fsync"),
        }
        assert_eq!(ran.load(Relaxed), 0);
    }

    #[test]
    fn a_failed_job_undoes_only_its_own_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, stats) = writer(&dir);
        let failed = || StoreError::Io("no".to_owned());
        // Alone in its transaction (no savepoint), plain and bulk.
        assert_eq!(
            writer.write(move |c| insert(c, 1).and(Err::<(), _>(failed()))),
            Err(failed())
        );
        assert_eq!(
            writer.write_alone(move |c| insert(c, 2).and(Err::<(), _>(failed()))),
            Err(failed())
        );
        writer.write_alone(|c| insert(c, 3)).unwrap();
        assert_eq!(values(&writer), [3]);
        // In a batch with others (savepoints): a job holds the writer until
        // the next three are queued behind it.
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (started, running) = std::sync::mpsc::channel::<()>();
        let writer = Arc::new(writer);
        let commits = || stats.commits.load(Relaxed);
        std::thread::scope(|scope| {
            let w = Arc::clone(&writer);
            let held = scope.spawn(move || {
                w.write(move |c| {
                    let _ = started.send(());
                    let _ = released.recv();
                    insert(c, 4)
                })
            });
            running.recv().unwrap();
            let before = commits();
            let jobs: Vec<_> = [5, 6, 7]
                .into_iter()
                .map(|v| {
                    let w = Arc::clone(&writer);
                    scope.spawn(move || {
                        w.write(move |c| {
                            insert(c, v)?;
                            if v == 6 {
                                return Err(StoreError::Io("six".to_owned()));
                            }
                            Ok(())
                        })
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(200));
            release.send(()).unwrap();
            held.join().unwrap().unwrap();
            let answers: Vec<_> = jobs.into_iter().map(|j| j.join().unwrap()).collect();
            assert!(answers[0].is_ok() && answers[1].is_err() && answers[2].is_ok());
            // The held job's transaction, then one of the three.
            assert_eq!(commits() - before, 2);
        });
        assert_eq!(values(&writer), [3, 4, 5, 7]);
    }
}
