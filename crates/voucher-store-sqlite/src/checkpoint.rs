//! The WAL checkpoint, off the writer thread.
//!
//! SQLite's automatic checkpoint runs in the connection that commits: every
//! [`CHECKPOINT_PAGES`] frames, one commit of the writer also copied every
//! page changed since into the database file and fsynced it, while the
//! callers of the next batch waited (about 6% of the writer's time under
//! load). The writer's connection has no automatic checkpoint here: a WAL
//! hook tells the writer how many frames the WAL holds after each commit,
//! and past [`CHECKPOINT_PAGES`] the writer asks a thread of its own, on a
//! connection of its own, for a passive checkpoint (which never blocks the
//! writer, nor the writer it).
//!
//! SQLite starts the WAL over from its beginning only when a write
//! transaction begins on a WAL that is wholly copied into the database. The
//! writer commits while the thread copies, so its pass never ends on such a
//! WAL: once a pass is done, the writer itself checkpoints what was
//! committed during it (a few batches' frames), and its next transaction
//! starts the WAL over. The WAL thus grows past [`CHECKPOINT_PAGES`] by
//! what is committed during one pass. One pass at a time: a pass asked for
//! while one runs, or the writer's own checkpoint during a pass, would only
//! find the checkpoint lock taken (an earlier version did both, and under
//! load the WAL then never started over). A reader holding an old snapshot
//! holds back any checkpoint alike, as it did SQLite's.
//!
//! Durability is unchanged: a checkpoint copies committed frames only, and
//! syncs the database file (at the writer's `synchronous` level) before the
//! WAL may be overwritten.

use std::cell::Cell;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::Connection;

/// WAL frames (pages) after which a checkpoint is asked for, after a batch
/// of checkout jobs (SQLite's default is 1000). A checkpoint copies each
/// changed page once however often it changed, so a longer interval writes
/// the pages of a busy index far fewer times. Each pass ends with an fsync
/// of the database file, during which the writer's own fsyncs wait: at
/// 10 000 frames, passes every few tenths of a second under durable
/// redemptions made the p99 latency of HTTP redemptions 17.9-20.6 ms, at
/// 40 000 frames 11.8-13.5 ms (alternated runs, docs/PERFORMANCE.md). The WAL file
/// then holds up to about 160 MiB (more while a pass runs), and a restart
/// after a crash reads it back.
pub(crate) const CHECKPOINT_PAGES: u32 = 40_000;

/// The same after a bulk job. A page the writer's cache misses is looked
/// for in the WAL's index, one hash table for every 4096 frames, newest
/// first: bulk jobs miss often, and 1M generated codes took 9.2-9.8 s with
/// [`CHECKPOINT_PAGES`] against 7.8-9.2 s with this.
pub(crate) const BULK_CHECKPOINT_PAGES: u32 = 10_000;

thread_local! {
    /// The frames in the WAL after the last commit of this thread's
    /// connection, set by [`wal_hook`].
    static WAL_FRAMES: Cell<u32> = const { Cell::new(0) };
}

/// Called by SQLite after each commit of the writer's connection, with the
/// number of frames in the WAL. Registering it turns off the connection's
/// automatic checkpoint.
fn wal_hook(_: &rusqlite::hooks::Wal, frames: c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.with(|cell| cell.set(u32::try_from(frames).unwrap_or(0)));
    Ok(())
}

/// Installs the WAL hook on `conn`, a connection of the writer thread (the
/// first at [`Checkpoints::start`], or one that replaces it).
pub(crate) fn attach(conn: &Connection) {
    conn.wal_hook(Some(wal_hook));
}

/// The writer's side: decides after each commit whether to ask for a
/// checkpoint, or to run the end of one.
pub(crate) struct Checkpoints {
    /// `None` when the checkpoint thread could not be started (a database
    /// without a file): the writer then checkpoints itself past `pages`,
    /// as SQLite did.
    background: Option<Background>,
    /// WAL frames after which a pass is asked for after a batch
    /// ([`CHECKPOINT_PAGES`]); after a bulk job it is the least of this and
    /// [`BULK_CHECKPOINT_PAGES`].
    pages: u32,
    /// The background passes done when the current one was asked for;
    /// `None` while none is asked for.
    asked: Option<u64>,
}

struct Background {
    wake: Option<SyncSender<()>>,
    /// Passes done, checkpointed or not.
    passes: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpoints {
    /// Installs the WAL hook on the writer's `conn` (which must be used on
    /// this thread only) and starts the checkpoint thread on a connection
    /// of its own to the same file.
    pub(crate) fn start(conn: &Connection) -> Checkpoints {
        Checkpoints::every(conn, CHECKPOINT_PAGES)
    }

    /// Like [`Checkpoints::start`], a pass every `pages` WAL frames.
    fn every(conn: &Connection, pages: u32) -> Checkpoints {
        attach(conn);
        let background = conn
            .path()
            .filter(|path| !path.is_empty())
            .and_then(|path| Background::start(path, conn));
        Checkpoints {
            background,
            pages,
            asked: None,
        }
    }

    /// After a commit of `conn` (of a bulk job when `bulk`): asks for a
    /// checkpoint, or runs the end of one.
    pub(crate) fn after_commit(&mut self, conn: &Connection, bulk: bool) {
        let frames = WAL_FRAMES.with(Cell::get);
        let pages = if bulk {
            self.pages.min(BULK_CHECKPOINT_PAGES)
        } else {
            self.pages
        };
        if frames < pages {
            // The WAL started over.
            self.asked = None;
            return;
        }
        let Some(background) = &self.background else {
            passive(conn);
            return;
        };
        let done = background.passes.load(Relaxed);
        match self.asked {
            None => {
                self.asked = Some(done);
                background.wake();
            }
            Some(asked) if done > asked => {
                // The pass asked for is done: copy what was committed
                // since, so that the next transaction starts the WAL over.
                // If it does not (a reader's snapshot held it back), the
                // next commit asks for another pass.
                passive(conn);
                self.asked = None;
            }
            // The pass runs.
            Some(_) => {}
        }
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        if let Some(background) = &mut self.background {
            background.wake.take();
            if let Some(thread) = background.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

impl Background {
    fn start(path: &str, writer: &Connection) -> Option<Background> {
        let conn = Connection::open(path).ok()?;
        // The same durability as the writer's: a checkpoint syncs the
        // database file before the WAL it copied may be overwritten.
        let synchronous: i64 = writer
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .ok()?;
        conn.pragma_update(None, "synchronous", synchronous).ok()?;
        let (wake, woken) = sync_channel(1);
        let passes = Arc::new(AtomicU64::new(0));
        let done = Arc::clone(&passes);
        let thread = std::thread::Builder::new()
            .name("voucher-checkpoint".to_owned())
            .spawn(move || run(&conn, &woken, &done))
            .ok()?;
        Some(Background {
            wake: Some(wake),
            passes,
            thread: Some(thread),
        })
    }

    fn wake(&self) {
        if let Some(wake) = &self.wake {
            // Never full: one pass is asked for at a time.
            let _ = wake.try_send(());
        }
    }
}

fn run(conn: &Connection, woken: &Receiver<()>, passes: &AtomicU64) {
    while woken.recv().is_ok() {
        passive(conn);
        passes.fetch_add(1, Relaxed);
    }
}

/// A passive checkpoint: copies what no reader still needs, waits for
/// nothing (another checkpoint running makes it return at once). An error
/// only leaves the WAL longer: the next checkpoint tries again.
fn passive(conn: &Connection) {
    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(conn: &Connection) -> (i64, i64) {
        // A checkpoint that copies nothing: (frames in the WAL, copied).
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(1)?, r.get(2)?))
        })
        .unwrap()
    }

    /// The WAL stays bounded under a stream of commits, none of which
    /// checkpoints by itself, and starts over.
    #[test]
    fn the_wal_starts_over_while_the_writer_commits() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("c.db")).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
             CREATE TABLE t (v BLOB NOT NULL);",
        )
        .unwrap();
        // A smaller interval than the writer's, for a quicker test.
        let pages = CHECKPOINT_PAGES / 4;
        let mut checkpoints = Checkpoints::every(&conn, pages);
        let mut most = 0;
        let mut restarts = 0;
        let mut last = 0;
        // About 3 pages a commit: 12 times `pages` in all, more than the
        // bound below.
        let commits = 12 * pages / 3;
        for _ in 0..commits {
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            conn.execute("INSERT INTO t (v) VALUES (zeroblob(8000))", [])
                .unwrap();
            conn.execute_batch("COMMIT").unwrap();
            let now = WAL_FRAMES.with(Cell::get);
            most = most.max(now);
            if now < last {
                restarts += 1;
            }
            last = now;
            checkpoints.after_commit(&conn, false);
        }
        assert!(restarts >= 2, "the WAL started over {restarts} times");
        // Loose, for a loaded machine (a pass may take long): the WAL grew
        // to 15 000-28 000 frames in runs on a quiet one.
        assert!(most < 8 * pages, "the WAL grew to {most} frames");
        drop(checkpoints);
        let (log, copied) = frames(&conn);
        assert!(log < i64::from(8 * pages) && copied <= log);
        assert_eq!(
            conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get::<_, i64>(0))
                .unwrap(),
            i64::from(commits)
        );
    }
}
