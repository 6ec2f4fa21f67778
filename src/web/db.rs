//! The web server's database access: a small, bounded pool of SQLite connections opened once,
//! each with a cache of the sessions it has looked up. Requests run their database work on
//! tokio's blocking threads, never on the threads that drive the sockets.
//!
//! The database stays the source of truth. Each connection remembers SQLite's
//! `PRAGMA data_version`, which changes whenever another connection (another pooled one, or a
//! `tessera` command in another process) commits; on a change the connection drops its cache
//! before answering, so a command's change is seen by the very next request.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::behaviours::ServeCache;
use crate::error::Result;
use crate::store::{Store, users::UserRow};

/// How long a connection trusts its caches without asking SQLite whether anyone committed.
pub const FRESHNESS: Duration = Duration::from_millis(1);

/// The most sessions one connection remembers; past it the cache starts afresh. Sessions
/// are cheap to look up again, so a crude bound is enough.
const SESSION_CACHE_CAPACITY: usize = 4096;

/// A session found in the store: whose it is and until when it holds.
#[derive(Debug, Clone)]
pub struct CachedSession {
    pub user: UserRow,
    pub expires_at: i64,
}

/// One pooled connection and what it caches.
pub struct Conn {
    store: Store,
    data_version: i64,
    /// When `data_version` was last read, and the pool's write generation then.
    checked_at: Instant,
    generation: u64,
    /// Keyed by the session value's SHA-256 hash, the same key the store indexes. Looking a
    /// hash up in a map is no timing oracle for the secret value: an attacker would need a
    /// preimage of the hash to make use of it.
    sessions: HashMap<[u8; 32], CachedSession>,
    /// What serving assets read: targets by path and users' attributes.
    serve: ServeCache,
}

impl Conn {
    fn open(path: &Path) -> Result<Conn> {
        let store = Store::open(path)?;
        let data_version = data_version(&store)?;
        Ok(Conn {
            store,
            data_version,
            checked_at: Instant::now(),
            generation: 0,
            sessions: HashMap::new(),
            serve: ServeCache::default(),
        })
    }

    pub fn store(&mut self) -> &mut Store {
        &mut self.store
    }

    pub fn conn(&self) -> &rusqlite::Connection {
        self.store.conn()
    }

    /// The connection with its serving cache, for `behaviours::serve_path`.
    pub fn for_serving(&mut self) -> (&rusqlite::Connection, &mut ServeCache) {
        (self.store.conn(), &mut self.serve)
    }

    /// Drops the caches if anyone else has committed since the last look.
    /// `generation` counts the pool's jobs that may have written (see [`Pool::run`]).
    fn refresh(&mut self, generation: u64) -> Result<()> {
        // Reading data_version opens a read transaction, which costs file-lock system calls;
        // under load that was the largest single cost of a cached request. So it is read at
        // most once per FRESHNESS, unless a job of this server may have written since (a
        // logout must end the session at once on every connection). A commit by another
        // process is therefore seen by every request that starts more than FRESHNESS later.
        let now = Instant::now();
        if generation == self.generation && now.duration_since(self.checked_at) < FRESHNESS {
            return Ok(());
        }
        let version = data_version(&self.store)?;
        self.checked_at = now;
        self.generation = generation;
        if version != self.data_version {
            self.sessions.clear();
            self.serve.clear();
            self.data_version = version;
        }
        Ok(())
    }

    pub fn cached_session(&self, hash: &[u8; 32]) -> Option<&CachedSession> {
        self.sessions.get(hash)
    }

    pub fn cache_session(&mut self, hash: [u8; 32], session: CachedSession) {
        if self.sessions.len() >= SESSION_CACHE_CAPACITY {
            self.sessions.clear();
        }
        self.sessions.insert(hash, session);
    }

    /// Forgets a session this connection itself deleted: its own commits do not change its
    /// `data_version`, so it must drop the entry by hand.
    pub fn forget_session(&mut self, hash: &[u8; 32]) {
        self.sessions.remove(hash);
    }
}

/// SQLite's counter of commits by other connections. It is a pragma, not a query of
/// Tessera's tables, which stay the store module's business.
fn data_version(store: &Store) -> Result<i64> {
    // A cached statement: this runs before every request, and parsing it each time showed in
    // the profile.
    Ok(store
        .conn()
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?)
}

/// What can go wrong running a job on the pool.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error(transparent)]
    Store(#[from] crate::error::Error),
    #[error("a database job panicked or was cancelled: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("the database pool is closed")]
    Closed,
}

/// The pool. At most `size` jobs run at once; each takes an idle connection or opens one, so
/// there are never more than `size` connections.
pub struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Conn>>,
    permits: Arc<Semaphore>,
    /// Bumped after every job that may have written, so that the other connections look at
    /// `data_version` on their next job instead of trusting their caches for FRESHNESS.
    generation: AtomicU64,
}

impl Pool {
    /// Opens the pool and one connection, so that a missing or unreadable database is
    /// reported at start-up rather than at the first request.
    pub fn open(db_path: &Path, size: usize) -> Result<Arc<Pool>> {
        let first = Conn::open(db_path)?;
        Ok(Arc::new(Pool {
            path: db_path.to_path_buf(),
            idle: Mutex::new(vec![first]),
            permits: Arc::new(Semaphore::new(size.max(1))),
            generation: AtomicU64::new(0),
        }))
    }

    fn take(&self) -> Option<Conn> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    fn give_back(&self, conn: Conn) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
    }

    /// Runs a short read-only `job` on the calling thread, without the hop to a blocking
    /// thread. Only for reads that never wait: in WAL mode readers do not block on writers,
    /// and the job must not hash passwords or write. Everything else goes through [`Pool::run`].
    pub async fn run_read<T, F>(self: &Arc<Self>, job: F) -> Result<T, PoolError>
    where
        F: FnOnce(&mut Conn) -> Result<T>,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PoolError::Closed)?;
        let mut conn = match self.take() {
            Some(conn) => conn,
            None => Conn::open(&self.path)?,
        };
        let generation = self.generation.load(Ordering::Acquire);
        let result = conn.refresh(generation).and_then(|()| job(&mut conn));
        self.give_back(conn);
        Ok(result?)
    }

    /// Runs `job` with a connection on a blocking thread. `T` may carry its own errors; the
    /// pool's own failures come back as [`PoolError`].
    pub async fn run<T, F>(self: &Arc<Self>, job: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| PoolError::Closed)?;
        let pool = Arc::clone(self);
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = match pool.take() {
                Some(conn) => conn,
                None => Conn::open(&pool.path)?,
            };
            let generation = pool.generation.load(Ordering::Acquire);
            let result = conn.refresh(generation).and_then(|()| job(&mut conn));
            // These jobs may write (logins, logouts): the other connections must look again.
            pool.generation.fetch_add(1, Ordering::AcqRel);
            // A job that failed leaves the connection usable: every write runs in a
            // transaction that rolls back on error.
            pool.give_back(conn);
            result
        })
        .await?;
        Ok(result?)
    }
}
