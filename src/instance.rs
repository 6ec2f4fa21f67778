//! An instance on disk: `DIR/tessera.db` (the source of truth), `DIR/packages/` (installed
//! packages' files) and `DIR/lock` (held while an operation changes files and database
//! together).

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::{self, Store};
use crate::users;

pub const DB_FILE: &str = "tessera.db";
pub const PACKAGES_DIR: &str = "packages";
const LOCK_FILE: &str = "lock";

pub struct Instance {
    pub dir: PathBuf,
    pub store: Store,
}

impl Instance {
    pub fn exists(dir: &Path) -> bool {
        dir.join(DB_FILE).exists()
    }

    /// Creates a new instance with its root folder, trash folder and root user. The database
    /// is built under a temporary name and renamed into place, so an interrupted `init` leaves
    /// no half-made instance.
    pub fn init(dir: &Path, root_password: &str) -> Result<Instance> {
        if Instance::exists(dir) {
            return Err(Error::conflict(format!(
                "an instance already exists in {}: use it, or choose another --data-dir",
                dir.display()
            )));
        }
        // Hash first: a password that is refused must leave nothing behind.
        users::hash_password(root_password)?;
        fs::create_dir_all(dir.join(PACKAGES_DIR))
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let staging = tempfile::Builder::new()
            .prefix(".init-")
            .tempdir_in(dir)
            .map_err(|e| Error::io(format!("cannot write in {}", dir.display()), e))?;
        let staged_db = staging.path().join(DB_FILE);
        {
            let mut store = Store::create(&staged_db)?;
            store.write(|tx| {
                crate::assets::create_top_folders(tx)?;
                store::set_meta(tx, "created_at", &store::now().to_string())?;
                store::set_meta(tx, "created_by_version", env!("CARGO_PKG_VERSION"))?;
                Ok::<_, Error>(())
            })?;
            users::create_root(&mut store, root_password)?;
        }
        File::open(&staged_db)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io("cannot sync the new database", e))?;
        fs::rename(&staged_db, dir.join(DB_FILE))
            .map_err(|e| Error::io("cannot move the new database into place", e))?;
        sync_dir(dir)?;
        Instance::open(dir)
    }

    /// Opens an existing instance.
    pub fn open(dir: &Path) -> Result<Instance> {
        if !Instance::exists(dir) {
            return Err(Error::not_found(format!(
                "no instance in {}: run tessera init (or tessera quickstart), or pass --data-dir",
                dir.display()
            )));
        }
        let store = Store::open(&dir.join(DB_FILE))?;
        let instance = Instance {
            dir: dir.to_path_buf(),
            store,
        };
        crate::packages::ops::clean_leftovers(&instance)?;
        Ok(instance)
    }

    pub fn packages_dir(&self) -> PathBuf {
        self.dir.join(PACKAGES_DIR)
    }

    fn lock_file(&self) -> Result<File> {
        let path = self.dir.join(LOCK_FILE);
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))
    }

    /// Takes the instance lock if no other process holds it.
    pub fn try_lock(&self) -> Result<Option<InstanceLock>> {
        let file = self.lock_file()?;
        match file.try_lock() {
            Ok(()) => Ok(Some(InstanceLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io("cannot lock the instance", e)),
        }
    }

    /// Takes the instance lock, waiting for another process that holds it. Operations that
    /// change files and the database together hold it from their first read to their commit.
    pub fn lock(&self) -> Result<InstanceLock> {
        let path = self.dir.join(LOCK_FILE);
        let file = self.lock_file()?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                eprintln!("waiting for another tessera operation on this instance to finish…");
                file.lock()
                    .map_err(|e| Error::io(format!("cannot lock {}", path.display()), e))?;
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io(format!("cannot lock {}", path.display()), e));
            }
        }
        Ok(InstanceLock { _file: file })
    }
}

/// Held while an operation changes the instance; released when dropped (or when the process
/// dies, since the operating system drops the lock with the file descriptor).
pub struct InstanceLock {
    _file: File,
}

/// Makes a directory's entries (a rename, a new file) durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("cannot sync {}", dir.display()), e))
}
