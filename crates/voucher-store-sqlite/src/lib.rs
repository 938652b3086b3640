//! `voucher-store-sqlite`: the engine's state in one SQLite file.
//!
//! [`SqliteStore`] implements the store ports of `voucher_core::port`. It
//! decides nothing itself: every validation, redemption and rollback is
//! decided by `voucher-core` on state read inside the transaction that
//! applies the decision's transition, which is what makes "exactly L
//! redemptions of a code of quantity L" hold under any concurrency.
//!
//! - Writes go through one writer thread that commits many requests per
//!   transaction (group commit, [`writer`]); each caller is answered only
//!   after its batch is durable. WAL with `synchronous=FULL` by default
//!   (under group commit a thread of the writer's own fsyncs the WAL while
//!   the next batch runs, see [`writer`]).
//! - Reads go through a pool of separate connections and never wait for the
//!   writer (WAL readers see the last committed state when they begin).
//! - Another process may write the same file (`BEGIN IMMEDIATE` and a busy
//!   timeout); nothing served is stale: what is kept across requests (the
//!   writer's webhook subscriptions, each reader's keys and projects) is
//!   checked against `PRAGMA data_version`, which any other connection's
//!   commit changes, in the same snapshot as the read it saves.

mod bulk;
mod campaigns;
mod catalog;
mod checkout;
mod checkpoint;
mod customers;
mod encode;
mod error;
mod gift;
mod idempotency;
mod listing;
mod maintenance;
mod paging;
mod projects;
mod publications;
mod queries;
mod rules;
pub mod schema;
mod vouchers;
mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use voucher_core::port::StoreError;

use crate::error::SqlResult;
use crate::writer::{Writer, WriterStats};

pub use crate::bulk::parse_import_csv;

/// How durable a commit is when it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// `synchronous=FULL`: the WAL is fsynced after every commit and
    /// before its callers are answered, so an acknowledged write survives
    /// power loss. The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives a process crash, may lose the last
    /// commits on power loss. An explicit opt-in for speed.
    Normal,
}

/// How a store is opened.
#[derive(Debug, Clone)]
pub struct Options {
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// How long to wait for another process's write lock.
    pub busy_timeout: Duration,
    /// Most requests committed together (1: one commit per request).
    pub batch_max: usize,
    /// Most idle read connections kept.
    pub readers_max: usize,
    /// A quota on the file, in pages of 4 KiB (`PRAGMA max_page_count`):
    /// past it, writes fail as on a full disk. `None`: no quota.
    pub max_page_count: Option<u32>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            batch_max: 256,
            readers_max: 16,
            max_page_count: None,
        }
    }
}

/// The SQLite store. Cheap to clone; clones share the writer and readers.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    options: Options,
    writer: Writer,
    readers: Mutex<Vec<Reader>>,
    stats: Arc<WriterStats>,
    /// Validations per campaign, counted in memory ([`checkout`]).
    validations: checkout::ValidationCounts,
    /// Which projects receive which events ([`webhooks`]).
    subscriptions: Arc<webhooks::Subscriptions>,
}

/// A pooled read connection and what it has read that every request reads
/// again (keys and projects), kept while `PRAGMA data_version` says nobody
/// has committed since: exact, whoever writes the file.
struct Reader {
    conn: Connection,
    cache: ReadCache,
}

/// The records a [`Reader`] keeps, valid at `PRAGMA data_version = version`
/// (which changes at every commit of another connection, whatever process
/// made it: readers never write).
#[derive(Default)]
pub(crate) struct ReadCache {
    version: Option<i64>,
    /// Keys found by app id, with their secret's hash (unknown ids are not
    /// kept, so guesses cannot fill it).
    pub(crate) keys: std::collections::HashMap<String, (voucher_core::port::KeyRecord, Vec<u8>)>,
    /// Projects by id.
    pub(crate) projects: std::collections::HashMap<i64, voucher_core::port::ProjectRecord>,
    /// Campaigns (with their counters and rules) by row id.
    pub(crate) campaigns: std::collections::HashMap<i64, catalog::CampaignInputs>,
}

impl ReadCache {
    /// Most records kept of each kind: past it, the cache starts again.
    const MAX: usize = 1024;

    /// Forgets everything unless the database is still at `version`.
    fn validate(&mut self, version: i64) {
        if self.version != Some(version)
            || self.keys.len() > Self::MAX
            || self.projects.len() > Self::MAX
            || self.campaigns.len() > Self::MAX
        {
            self.keys.clear();
            self.projects.clear();
            self.campaigns.clear();
            self.version = Some(version);
        }
    }
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

/// Page cache per connection, in KiB. SQLite's default (2 MiB) thrashes as
/// soon as the code index of a large campaign outgrows it, and every random
/// code then costs disk reads on insert and lookup.
/// The writer sets its own per kind of job (`writer::BULK_CACHE_KIB` is
/// this one).
const CACHE_KIB: u32 = writer::BULK_CACHE_KIB;

/// Page cache of each pooled read connection, in KiB.
const READER_CACHE_KIB: u32 = 8 * 1024;

/// Prepared statements kept per connection. rusqlite keeps 16 by default;
/// a redemption alone runs more distinct statements than that, and
/// re-preparing them on every request cost more than running them.
const STATEMENT_CACHE: usize = 256;

fn configure(conn: &Connection, options: &Options) -> Result<(), StoreError> {
    conn.busy_timeout(options.busy_timeout).store()?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let synchronous = match options.synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    // The writer's connection replaces the automatic checkpoint with its
    // own (see `checkpoint`); it stays for the migrations it commits first.
    let checkpoint_pages = checkpoint::CHECKPOINT_PAGES;
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = {synchronous}; PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -{CACHE_KIB}; PRAGMA wal_autocheckpoint = {checkpoint_pages};"
    ))
    .store()?;
    if let Some(pages) = options.max_page_count {
        conn.pragma_update(None, "max_page_count", pages).store()?;
    }
    Ok(())
}

fn open_connection(path: &Path, options: &Options) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).store()?;
    configure(&conn, options)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating and migrating) the database at `path`.
    ///
    /// Errors: [`StoreError::Corrupt`] for a file that is not a database,
    /// [`StoreError::NewerSchema`] for a database written by a newer
    /// version, [`StoreError::DiskFull`] when the migration cannot be
    /// written (nothing is then half-written: migrations are transactional).
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = open_connection(&path, &options)?;
        // Reading the header is the first access: a file that is not a
        // database fails here, before anything is written.
        let found: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .store()?;
        if found > schema::version() {
            return Err(StoreError::NewerSchema {
                found,
                supported: schema::version(),
            });
        }
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .store()?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Io(format!(
                "cannot use WAL journaling (got {mode})"
            )));
        }
        schema::migrations()
            .to_latest(&mut conn)
            .map_err(migration_error)?;
        let stats = Arc::new(WriterStats::default());
        let reopen: Option<writer::Reopen> = match conn.path() {
            Some(file) if !file.is_empty() => {
                let (path, options) = (path.clone(), options.clone());
                Some(Box::new(move || open_connection(&path, &options)))
            }
            _ => None,
        };
        // With FULL and group commit, a thread of its own syncs the WAL
        // (see `writer::Sync`); one write per commit keeps the plain FULL
        // commit, each synced before the next begins (what
        // `--writer-batch-max 1` is for).
        let sync = match (conn.path(), options.synchronous, options.batch_max) {
            // SQLite's own full name of the file, as it names the WAL.
            (Some(file), Synchronous::Full, 2..) if !file.is_empty() => {
                writer::Sync::Syncer(PathBuf::from(format!("{file}-wal")))
            }
            _ => writer::Sync::AtCommit,
        };
        let writer = Writer::start(conn, reopen, options.batch_max, sync, Arc::clone(&stats))?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                options,
                writer,
                readers: Mutex::new(Vec::new()),
                stats,
                validations: checkout::ValidationCounts::default(),
                subscriptions: Arc::default(),
            }),
        })
    }

    /// The cache of who receives which events, for write jobs ([`webhooks::emit`]).
    pub(crate) fn subscriptions(&self) -> Arc<webhooks::Subscriptions> {
        Arc::clone(&self.inner.subscriptions)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `work` in the writer's next batch; `Err` undoes its writes.
    /// `work` may run more than once, only the last run counting (see
    /// [`writer`]): it must not act outside the transaction.
    pub(crate) fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.writer.write(work)
    }

    /// Like [`SqliteStore::write`], without waiting: `reply` gets the
    /// answer on the writer thread (see [`writer::Writer::write_then`]).
    pub(crate) fn write_then<T, F>(
        &self,
        work: F,
        reply: Box<dyn FnOnce(Result<T, StoreError>) + Send>,
    ) where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.writer.write_then(work, reply)
    }

    /// Like [`SqliteStore::write`], in a transaction of its own (bulk jobs:
    /// see [`writer`]).
    pub(crate) fn write_alone<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.writer.write_alone(work)
    }

    /// Runs `read` in one read transaction (a consistent snapshot) on a
    /// pooled read connection.
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.read_reader(|reader| read(&reader.conn))
    }

    /// Like [`SqliteStore::read`], with the connection's [`ReadCache`],
    /// checked against `PRAGMA data_version` first (in the same snapshot).
    pub(crate) fn read_cached<T>(
        &self,
        read: impl FnOnce(&Connection, &mut ReadCache) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.read_reader(|reader| {
            let version: i64 = reader
                .conn
                .prepare_cached("PRAGMA data_version")
                .store()?
                .query_row([], |r| r.get(0))
                .store()?;
            reader.cache.validate(version);
            read(&reader.conn, &mut reader.cache)
        })
    }

    fn read_reader<T>(
        &self,
        read: impl FnOnce(&mut Reader) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.inner.readers.lock().map_err(|_| poisoned())?.pop();
        let mut reader = match pooled {
            Some(reader) => reader,
            None => {
                let conn = open_connection(&self.inner.path, &self.inner.options)?;
                // Readers scan rather than revisit: a small cache each, so
                // a pool of them stays light (the writer keeps the big one).
                conn.execute_batch(&format!(
                    "PRAGMA query_only = ON; PRAGMA cache_size = -{READER_CACHE_KIB};"
                ))
                .store()?;
                Reader {
                    conn,
                    cache: ReadCache::default(),
                }
            }
        };
        reader
            .conn
            .prepare_cached("BEGIN")
            .store()?
            .execute([])
            .store()?;
        let result = read(&mut reader);
        let end = reader
            .conn
            .prepare_cached(if result.is_ok() { "COMMIT" } else { "ROLLBACK" })
            .and_then(|mut end| end.execute([]));
        if end.is_ok() {
            let mut readers = self.inner.readers.lock().map_err(|_| poisoned())?;
            if readers.len() < self.inner.options.readers_max {
                readers.push(reader);
            }
        }
        result
    }

    /// Transactions committed and write jobs run so far: their ratio is the
    /// mean group-commit batch size.
    pub fn writer_stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.inner.stats.commits.load(Relaxed),
            self.inner.stats.jobs.load(Relaxed),
        )
    }

    /// Runs `PRAGMA integrity_check`; `Corrupt` unless it says `ok`.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            let verdict: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .store()?;
            if verdict == "ok" {
                Ok(())
            } else {
                Err(StoreError::Corrupt(verdict))
            }
        })
    }
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("a store lock was poisoned".to_owned())
}

fn migration_error(e: rusqlite_migration::Error) -> StoreError {
    match e {
        rusqlite_migration::Error::RusqliteError { err, .. } => error::map(err),
        other => StoreError::Io(format!("migrating: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer_synchronous(options: Options) -> i64 {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("v.db"), options).unwrap();
        store
            .write(|conn| {
                conn.pragma_query_value(None, "synchronous", |r| r.get(0))
                    .store()
            })
            .unwrap()
    }

    /// Group commit under FULL hands the WAL's fsync to the syncer (the
    /// writer's commits run at NORMAL); one write per commit keeps FULL,
    /// and NORMAL stays NORMAL (nobody syncs at commit).
    #[test]
    fn who_syncs_the_wal_follows_the_options() {
        let (full, normal) = (2, 1);
        assert_eq!(writer_synchronous(Options::default()), normal);
        let one_per_commit = Options {
            batch_max: 1,
            ..Options::default()
        };
        assert_eq!(writer_synchronous(one_per_commit), full);
        let chosen = Options {
            synchronous: Synchronous::Normal,
            ..Options::default()
        };
        assert_eq!(writer_synchronous(chosen), normal);
    }
}
