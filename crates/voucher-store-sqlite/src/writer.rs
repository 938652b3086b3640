//! The single writer and its group commit.
//!
//! One thread owns the only write connection. Callers send it jobs; it takes
//! the first job waiting, then every job already queued behind it (up to
//! `batch_max`), runs them all in one `BEGIN IMMEDIATE` transaction, each
//! inside its own savepoint, commits once, and only then answers each
//! caller. A job that returns `Err` is rolled back to its savepoint without
//! disturbing the others; a failed commit fails the whole batch and no
//! caller is told "done". With `synchronous=FULL` the commit is durable when
//! it returns, so an acknowledged redemption survives a crash or power loss.
//!
//! The cost of one fsync is shared by every request in the batch: under
//! load the batches grow by themselves, which is what makes durable
//! redemptions fast (see docs/PERFORMANCE.md).
//!
//! A batch of one job needs no savepoint (its failure rolls the whole
//! transaction back), and a bulk job (tens of thousands of rows, see
//! [`Writer::write_alone`]) always runs alone: a savepoint keeps a copy of
//! every page the job changes, in memory, to undo it, which for a bulk job
//! was a good part of the process's memory and of the writer's time.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::thread::JoinHandle;

use rusqlite::Connection;
use voucher_core::port::StoreError;

use crate::error::SqlResult;

type Output = Result<Box<dyn Any + Send>, StoreError>;
type Work = Box<dyn FnOnce(&Connection) -> Output + Send>;

struct Job {
    work: Work,
    reply: SyncSender<Output>,
    /// Runs in a transaction of its own.
    alone: bool,
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
    pub commits: std::sync::atomic::AtomicU64,
    /// Jobs run.
    pub jobs: std::sync::atomic::AtomicU64,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub(crate) fn start(
        conn: Connection,
        batch_max: usize,
        stats: std::sync::Arc<WriterStats>,
    ) -> Result<Writer, StoreError> {
        let (sender, receiver) = sync_channel::<Job>(batch_max.max(1) * 4);
        let thread = std::thread::Builder::new()
            .name("voucher-writer".to_owned())
            .spawn(move || run(conn, receiver, batch_max.max(1), &stats))
            .map_err(|e| StoreError::Io(format!("starting the writer: {e}")))?;
        Ok(Writer {
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    /// Runs `work` in the next batch and waits until that batch committed.
    /// `Err` from `work` rolls back its own writes only.
    pub(crate) fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(work, false)
    }

    /// Like [`Writer::write`], in a transaction of its own: for bulk jobs,
    /// which would make a batch's savepoint copy every page they change.
    pub(crate) fn write_alone<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(work, true)
    }

    fn submit<T, F>(&self, work: F, alone: bool) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = sync_channel(1);
        let work: Work =
            Box::new(move |conn| work(conn).map(|t| Box::new(t) as Box<dyn Any + Send>));
        let sender = self
            .sender
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("the store is closed".to_owned()))?;
        sender
            .send(Job { work, reply, alone })
            .map_err(|_| StoreError::Unavailable("the writer stopped".to_owned()))?;
        let output = answer
            .recv()
            .map_err(|_| StoreError::Unavailable("the writer stopped".to_owned()))?;
        output.and_then(|boxed| {
            boxed
                .downcast::<T>()
                .map(|t| *t)
                .map_err(|_| StoreError::Io("writer answered with the wrong type".to_owned()))
        })
    }
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

fn run(conn: Connection, receiver: Receiver<Job>, batch_max: usize, stats: &WriterStats) {
    use std::sync::atomic::Ordering::Relaxed;
    // A job that must run alone, met while gathering a batch: it is the
    // next batch.
    let mut held: Option<Job> = None;
    loop {
        let first = match held.take() {
            Some(job) => job,
            None => match receiver.recv() {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        let mut batch = vec![first];
        while !batch[0].alone && batch.len() < batch_max {
            match receiver.try_recv() {
                Ok(job) if job.alone => {
                    held = Some(job);
                    break;
                }
                Ok(job) => batch.push(job),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let savepoints = batch.len() > 1;
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE").store() {
            for job in batch {
                let _ = job.reply.send(Err(e.clone()));
            }
            continue;
        }
        let mut answers = Vec::with_capacity(batch.len());
        // Some errors (a full disk, I/O errors) make SQLite roll back the
        // whole transaction by itself: then no job of the batch is done,
        // and every caller must hear so.
        let mut aborted: Option<StoreError> = None;
        for job in batch {
            let output = match &aborted {
                Some(e) => Err(e.clone()),
                None => run_job(&conn, job.work, savepoints),
            };
            // A job alone in its transaction is undone with the whole of it.
            let undone = conn.is_autocommit() || (!savepoints && output.is_err());
            if aborted.is_none() && undone {
                aborted = Some(match &output {
                    Err(e) => e.clone(),
                    Ok(_) => StoreError::Io("the transaction was rolled back".to_owned()),
                });
            }
            answers.push((job.reply, output));
        }
        stats.jobs.fetch_add(answers.len() as u64, Relaxed);
        if let Some(e) = aborted {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            for (reply, _) in answers {
                let _ = reply.send(Err(e.clone()));
            }
            continue;
        }
        match conn.execute_batch("COMMIT").store() {
            Ok(()) => {
                stats.commits.fetch_add(1, Relaxed);
                for (reply, output) in answers {
                    let _ = reply.send(output);
                }
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                for (reply, _) in answers {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Runs one job, inside a savepoint when it shares its transaction; its
/// failure (or panic) undoes its own writes only: the savepoint's here, or
/// else the whole transaction's ([`run`] rolls it back).
fn run_job(conn: &Connection, work: Work, in_savepoint: bool) -> Output {
    if in_savepoint {
        savepoint(conn, "SAVEPOINT job")?;
    }
    let output = match catch_unwind(AssertUnwindSafe(|| work(conn))) {
        Ok(output) => output,
        Err(_) => Err(StoreError::Io("a write job panicked".to_owned())),
    };
    if !in_savepoint {
        return output;
    }
    if output.is_err() {
        if conn.is_autocommit() {
            // SQLite already rolled the whole transaction back.
            return output;
        }
        savepoint(conn, "ROLLBACK TO job")?;
    }
    savepoint(conn, "RELEASE job")?;
    output
}

/// Runs a savepoint statement, prepared once per connection: every job
/// runs two, and parsing them anew each time was a measurable part of a
/// small job.
fn savepoint(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql).store()?.execute([]).store()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn writer(dir: &tempfile::TempDir) -> (Writer, Arc<WriterStats>) {
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER NOT NULL);")
            .unwrap();
        let stats = Arc::new(WriterStats::default());
        (Writer::start(conn, 64, Arc::clone(&stats)).unwrap(), stats)
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
        let commits = || stats.commits.load(std::sync::atomic::Ordering::Relaxed);
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
