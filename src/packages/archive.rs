//! Package archives: reading untrusted `.tgz` files safely, and building them reproducibly.
//!
//! [`read`] decides about the whole archive in memory before anything is written anywhere: a
//! caller that gets a [`PackageArchive`] back knows every path is plain and relative, every entry
//! is a regular file (directories are accepted and dropped), names are unique, the limits hold
//! and the manifest validates. [`PackageArchive::write_to`] then lays the files out durably in a
//! staging directory the caller owns.
//!
//! [`build`] packs a directory so that the same directory always gives the same bytes, and runs
//! [`read`] over its own output so it never produces an archive that install would refuse.
//!
//! Policy decisions, documented for authors in `docs/packages.md`:
//! - Only file entries are stored by [`build`]; empty directories are not packed. [`read`]
//!   accepts directory entries because other tools write them, and keeps no record of them.
//! - After the tar end-of-archive marker only zero bytes may follow (tar's own padding), and after
//!   the gzip member nothing may follow. Anything else is data some other tool might see and we
//!   would not, so it is refused.
//! - PAX global headers are refused: they can change how other tools read the entries that
//!   follow, and no package needs one.
//! - [`build`] skips nothing: what is in the directory is in the package.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use flate2::bufread::GzDecoder;
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

use super::manifest::{MANIFEST_FILE, Manifest, ManifestError};

/// Bounds on what an archive may unpack to. Tests use small ones; the host uses the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most entries (files and directories) an archive may hold.
    pub max_entries: usize,
    /// The most bytes the entries may declare in total, PAX size overrides included.
    pub max_unpacked_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 10_000,
            max_unpacked_bytes: 256 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// The most bytes the reader takes out of the decompressor. On top of the file data a tar
    /// stream holds headers, padding, long-name and PAX records and trailing zero blocks; the
    /// allowance covers those generously for honest archives, while a gzip bomb is still stopped
    /// after a bounded amount of inflating instead of after all of it.
    pub fn max_inflated_bytes(&self) -> u64 {
        let per_entry = 4096u64.saturating_mul(self.max_entries as u64 + 1);
        self.max_unpacked_bytes
            .saturating_add(per_entry)
            .saturating_add(1024 * 1024)
    }
}

/// A validated package, fully read into memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageArchive {
    pub manifest: Manifest,
    /// The regular files, sorted by path; `package.toml` is among them.
    pub files: Vec<ArchiveFile>,
    /// Lowercase hex SHA-256 of the archive bytes, as `--sha256` compares it.
    pub sha256: String,
    /// The size of the archive bytes.
    pub archive_size: u64,
}

/// One regular file of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFile {
    /// Relative, `/`-separated, without `.` or empty components.
    pub path: String,
    pub data: Vec<u8>,
    /// Whether any execute bit was set in the archive; written as mode 0755 instead of 0644.
    pub executable: bool,
}

/// A kind of tar entry a package may not contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForbiddenKind {
    Symlink,
    HardLink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
    PaxGlobalHeader,
    /// Any other type byte: sparse files, GNU volume labels, contiguous files, vendor types.
    Other(u8),
}

impl fmt::Display for ForbiddenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForbiddenKind::Symlink => f.write_str("symbolic link"),
            ForbiddenKind::HardLink => f.write_str("hard link"),
            ForbiddenKind::CharDevice => f.write_str("character device"),
            ForbiddenKind::BlockDevice => f.write_str("block device"),
            ForbiddenKind::Fifo => f.write_str("fifo"),
            ForbiddenKind::Socket => f.write_str("socket"),
            ForbiddenKind::PaxGlobalHeader => f.write_str("pax global header"),
            ForbiddenKind::Other(byte) if byte.is_ascii_graphic() => {
                write!(f, "entry of type '{}'", *byte as char)
            }
            ForbiddenKind::Other(byte) => write!(f, "entry of type byte {byte}"),
        }
    }
}

/// Why an archive was refused, or could not be built. Every message names the entry (or the
/// place in the stream) and the rule.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The bytes do not start like gzip.
    #[error(
        "archive is not gzip-compressed ({detail}): a package is a .tgz file made by `tessera package build`"
    )]
    NotGzip { detail: String },
    /// The gzip or tar stream is damaged or cut short. `after` is the last entry read whole.
    #[error("archive is corrupt or truncated {}: {detail}: rebuild it with `tessera package build`", place(.after))]
    Corrupt {
        after: Option<String>,
        detail: String,
    },
    /// A path that is absolute, leaves the package, or cannot be represented safely.
    #[error("archive entry {entry:?}: {reason}: entries must be relative paths inside the package")]
    UnsafePath { entry: String, reason: &'static str },
    /// An entry that is not a regular file or directory.
    #[error(
        "archive entry {entry:?}: {kind} not allowed: a package may contain only regular files and directories"
    )]
    ForbiddenType { entry: String, kind: ForbiddenKind },
    /// A path that appears twice, or both as a file and as a directory.
    #[error("archive entry {entry:?}: {reason}: every path may appear once")]
    Duplicate { entry: String, reason: &'static str },
    #[error(
        "archive entry {entry:?}: more than {limit} entries: a package may hold at most {limit} files and directories"
    )]
    TooManyEntries { entry: String, limit: usize },
    /// The declared sizes add up to more than the limit.
    #[error(
        "archive entry {entry:?}: unpacked size exceeds {limit} bytes: a package may unpack to at most {limit} bytes"
    )]
    TooLarge { entry: String, limit: u64 },
    /// The decompressed stream grew past [`Limits::max_inflated_bytes`]: a gzip bomb, or tar
    /// metadata far beyond what any package needs. Reading stopped there.
    #[error("archive inflates to more than {limit} bytes {}: a package may unpack to at most {unpacked_limit} bytes", place(.after))]
    Inflated {
        after: Option<String>,
        limit: u64,
        unpacked_limit: u64,
    },
    /// Non-zero data after the tar end-of-archive marker, or bytes after the gzip stream.
    #[error("archive has {what}: remove it, or rebuild with `tessera package build`")]
    TrailingData { what: &'static str },
    #[error(
        "archive has no {MANIFEST_FILE} at its root{hint}: put the manifest at the top of the package directory"
    )]
    MissingManifest { hint: String },
    #[error("invalid manifest: {0}")]
    Manifest(#[from] ManifestError),
    /// Reading the directory to pack failed.
    #[error("cannot read {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
}

fn place(after: &Option<String>) -> String {
    match after {
        Some(entry) => format!("after entry {entry:?}"),
        None => "before the first entry".to_string(),
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads and validates a whole archive. Nothing is written anywhere; on success every file is in
/// memory and the manifest has validated.
pub fn read(bytes: &[u8], limits: &Limits) -> Result<PackageArchive, ArchiveError> {
    if bytes.len() < 2 || bytes[..2] != [0x1f, 0x8b] {
        return Err(ArchiveError::NotGzip {
            detail: "missing the gzip magic bytes".to_string(),
        });
    }
    let files = read_files(bytes, limits)?;
    let manifest = manifest_of(&files)?;
    Ok(PackageArchive {
        manifest,
        files,
        sha256: sha256_hex(bytes),
        archive_size: bytes.len() as u64,
    })
}

/// Wraps the decompressor and refuses to hand out more than `limit` bytes in total. The flag lets
/// the caller tell this refusal from real corruption, whatever the tar crate wraps it in.
struct CappedReader<R> {
    inner: R,
    read: u64,
    limit: u64,
    exceeded: Rc<Cell<bool>>,
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = self.limit.saturating_sub(self.read);
        if room == 0 {
            // One byte of look-ahead tells a stream that ends exactly at the limit from one that
            // goes on.
            let mut probe = [0u8; 1];
            if buf.is_empty() || self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            self.exceeded.set(true);
            return Err(io::Error::other("inflated size limit reached"));
        }
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.read += n as u64;
        Ok(n)
    }
}

/// The streaming part of [`read`], generic over the compressed input so tests can count how much
/// of it was consumed.
fn read_files<R: BufRead>(
    compressed: R,
    limits: &Limits,
) -> Result<Vec<ArchiveFile>, ArchiveError> {
    let exceeded = Rc::new(Cell::new(false));
    let capped = CappedReader {
        inner: GzDecoder::new(compressed),
        read: 0,
        limit: limits.max_inflated_bytes(),
        exceeded: exceeded.clone(),
    };
    let mut archive = tar::Archive::new(capped);
    let mut last: Option<String> = None;
    // Decides what a stream error means: the cap tripping is a size refusal, anything else is
    // corruption. It is a closure over the shared flag so every read site agrees.
    let stream_error = |after: &Option<String>, error: io::Error| {
        if exceeded.get() {
            ArchiveError::Inflated {
                after: after.clone(),
                limit: limits.max_inflated_bytes(),
                unpacked_limit: limits.max_unpacked_bytes,
            }
        } else {
            ArchiveError::Corrupt {
                after: after.clone(),
                detail: error.to_string(),
            }
        }
    };

    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let mut files = Vec::new();
    let mut entries_count = 0usize;
    let mut declared = 0u64;
    {
        let entries = archive.entries().map_err(|e| stream_error(&last, e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| stream_error(&last, e))?;
            let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            entries_count += 1;
            if entries_count > limits.max_entries {
                return Err(ArchiveError::TooManyEntries {
                    entry: raw_name,
                    limit: limits.max_entries,
                });
            }
            let entry_type = entry.header().entry_type();
            let is_dir = match entry_type {
                EntryType::Regular => false,
                EntryType::Directory => true,
                other => {
                    return Err(ArchiveError::ForbiddenType {
                        entry: raw_name,
                        kind: forbidden_kind(other),
                    });
                }
            };
            let path =
                normalise(&entry.path_bytes()).map_err(|reason| ArchiveError::UnsafePath {
                    entry: raw_name.clone(),
                    reason,
                })?;
            // `entry.size()` already has any PAX `size` override applied, which is the size
            // the tar crate will actually read; the header's own field may say less.
            let size = entry.size();
            declared = declared.saturating_add(size);
            if declared > limits.max_unpacked_bytes {
                return Err(ArchiveError::TooLarge {
                    entry: raw_name,
                    limit: limits.max_unpacked_bytes,
                });
            }
            record(&mut seen, &path, is_dir, &raw_name)?;
            if is_dir {
                // A directory's data, if a hostile header declares any, is skipped by the tar
                // crate and still counted above and by the inflate cap.
                last = Some(raw_name);
                continue;
            }
            let mode = entry.header().mode().map_err(|e| stream_error(&last, e))?;
            let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            entry.read_to_end(&mut data).map_err(|e| {
                // Name the entry whose data broke off, not only the last complete one.
                match stream_error(&last, e) {
                    ArchiveError::Corrupt { after, detail } => ArchiveError::Corrupt {
                        after,
                        detail: format!("reading entry {raw_name:?}: {detail}"),
                    },
                    other => other,
                }
            })?;
            if data.len() as u64 != size {
                return Err(ArchiveError::Corrupt {
                    after: last,
                    detail: format!(
                        "entry {raw_name:?} declares {size} bytes but only {} are present",
                        data.len()
                    ),
                });
            }
            last = Some(raw_name);
            files.push(ArchiveFile {
                path,
                data,
                executable: mode & 0o111 != 0,
            });
        }
    }

    // The tar crate stops at the first zero block. Drain the rest so the gzip checksum is
    // verified, and so nothing hides behind the end marker.
    let mut capped = archive.into_inner();
    let mut buf = [0u8; 8192];
    loop {
        let n = capped.read(&mut buf).map_err(|e| stream_error(&last, e))?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|b| *b != 0) {
            return Err(ArchiveError::TrailingData {
                what: "data after the tar end-of-archive marker",
            });
        }
    }
    let mut rest = capped.inner.into_inner();
    let has_more = !rest
        .fill_buf()
        .map_err(|e| stream_error(&last, e))?
        .is_empty();
    if has_more {
        return Err(ArchiveError::TrailingData {
            what: "bytes after the end of the gzip stream",
        });
    }

    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn manifest_of(files: &[ArchiveFile]) -> Result<Manifest, ArchiveError> {
    let Some(file) = files.iter().find(|f| f.path == MANIFEST_FILE) else {
        // The common mistake is packing the directory itself rather than its contents.
        let nested = files
            .iter()
            .find(|f| f.path.ends_with(&format!("/{MANIFEST_FILE}")));
        let hint = match nested {
            Some(f) => format!(" (found {:?})", f.path),
            None => String::new(),
        };
        return Err(ArchiveError::MissingManifest { hint });
    };
    let text = std::str::from_utf8(&file.data).map_err(|e| ManifestError::Syntax {
        message: format!("not valid UTF-8 ({e}): save the file as UTF-8"),
    })?;
    Ok(Manifest::parse(text)?)
}

fn forbidden_kind(entry_type: EntryType) -> ForbiddenKind {
    match entry_type {
        EntryType::Symlink => ForbiddenKind::Symlink,
        EntryType::Link => ForbiddenKind::HardLink,
        EntryType::Char => ForbiddenKind::CharDevice,
        EntryType::Block => ForbiddenKind::BlockDevice,
        EntryType::Fifo => ForbiddenKind::Fifo,
        EntryType::XGlobalHeader => ForbiddenKind::PaxGlobalHeader,
        other => ForbiddenKind::Other(other.as_byte()),
    }
}

/// Turns a tar path into the plain relative form packages use, or says which rule it breaks.
/// Windows spellings are refused too, because the same archive may be inspected on Windows and
/// a backslash or drive letter means something different there.
fn normalise(raw: &[u8]) -> Result<String, &'static str> {
    let text = std::str::from_utf8(raw).map_err(|_| "path is not valid UTF-8")?;
    if text.contains('\0') {
        return Err("path contains a NUL byte");
    }
    if text.contains('\\') {
        return Err("path contains a backslash");
    }
    if text.starts_with('/') {
        return Err("path is absolute");
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("path leaves the package directory"),
            _ => parts.push(part),
        }
    }
    if let Some(first) = parts.first() {
        let b = first.as_bytes();
        if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
            return Err("path starts with a drive letter");
        }
    }
    Ok(parts.join("/"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    File,
    /// A directory, and whether an entry named it (rather than a file path implying it).
    Dir {
        explicit: bool,
    },
}

/// Records a path, refusing a second entry of the same name and a file that is also a directory
/// (as an entry or as the parent of another entry).
fn record(
    seen: &mut BTreeMap<String, Seen>,
    path: &str,
    is_dir: bool,
    raw_name: &str,
) -> Result<(), ArchiveError> {
    let duplicate = |reason| ArchiveError::Duplicate {
        entry: raw_name.to_string(),
        reason,
    };
    if path.is_empty() {
        // `./` names the package root itself, which tools like `tar -C dir .` write. A file
        // cannot have that name.
        return if is_dir {
            Ok(())
        } else {
            Err(ArchiveError::UnsafePath {
                entry: raw_name.to_string(),
                reason: "path is empty",
            })
        };
    }
    let mut prefix = String::new();
    for part in path.split('/').collect::<Vec<_>>().split_last().unwrap().1 {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(part);
        match seen.get(&prefix) {
            Some(Seen::File) => return Err(duplicate("a parent directory is also a file")),
            Some(Seen::Dir { .. }) => {}
            None => {
                seen.insert(prefix.clone(), Seen::Dir { explicit: false });
            }
        }
    }
    match (seen.get(path).copied(), is_dir) {
        (None, _) => {}
        (Some(Seen::Dir { explicit: false }), true) => {}
        (Some(Seen::Dir { explicit: false }), false) => {
            return Err(duplicate("the same path is also a directory"));
        }
        (Some(Seen::Dir { explicit: true }), _) | (Some(Seen::File), _) => {
            return Err(duplicate("the same path appears earlier"));
        }
    }
    let kind = if is_dir {
        Seen::Dir { explicit: true }
    } else {
        Seen::File
    };
    seen.insert(path.to_string(), kind);
    Ok(())
}

impl PackageArchive {
    /// The total size of the files.
    pub fn unpacked_size(&self) -> u64 {
        self.files.iter().map(|f| f.data.len() as u64).sum()
    }

    /// The file at `path`, if the package has one.
    pub fn file(&self, path: &str) -> Option<&ArchiveFile> {
        self.files.iter().find(|f| f.path == path)
    }

    /// Writes the files under `dir`, which must exist and be empty, creating subdirectories.
    /// Every file and directory, `dir` included, is fsynced before this returns, so the tree is
    /// durable before the caller commits the database transaction that points at it. Files are
    /// created with `create_new`, so nothing already there is ever overwritten.
    pub fn write_to(&self, dir: &Path) -> io::Result<()> {
        if fs::read_dir(dir)?.next().is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} is not empty: unpack into a new staging directory",
                    dir.display()
                ),
            ));
        }
        let mut created_dirs: std::collections::BTreeSet<PathBuf> = Default::default();
        for file in &self.files {
            // The fields are public, so a caller could hand us any path; check again rather
            // than trust that it came from `read`.
            if normalise(file.path.as_bytes()).ok().as_deref() != Some(file.path.as_str())
                || file.path.is_empty()
            {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("refusing to write unsafe package path {:?}", file.path),
                ));
            }
            let mut parent = dir.to_path_buf();
            let parts: Vec<&str> = file.path.split('/').collect();
            for part in &parts[..parts.len() - 1] {
                parent.push(part);
                if !created_dirs.contains(&parent) {
                    match fs::create_dir(&parent) {
                        Ok(()) => {
                            created_dirs.insert(parent.clone());
                        }
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                            if !fs::symlink_metadata(&parent)?.is_dir() {
                                return Err(e);
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            let target = dir.join(&file.path);
            let mut options = fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(if file.executable { 0o755 } else { 0o644 });
            }
            let mut out = options.open(&target)?;
            out.write_all(&file.data)?;
        }
        sync_tree(dir)
    }
}

/// Makes every file and directory written under `dir` durable. On Linux one `syncfs` flushes
/// the whole file system at once, which costs what a single `sync` after `tar xzf` costs;
/// syncing thousands of files one by one costs many times more. Elsewhere each file and
/// directory is synced in turn.
fn sync_tree(dir: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let handle = fs::File::open(dir)?;
        // SAFETY: syncfs takes a file descriptor, which `handle` keeps open for the call.
        if unsafe { libc::syncfs(handle.as_raw_fd()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        // Contents first, so each directory's entries are synced after what they name.
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                sync_tree(&path)?;
            } else {
                fs::File::open(&path)?.sync_all()?;
            }
        }
        sync_dir(dir)
    }
}

#[cfg(not(target_os = "linux"))]
/// Makes a directory's entries durable. Windows cannot open directories as files and has no
/// equivalent need, so this is a no-op there.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The modification time written into every entry (2000-01-01T00:00:00Z). A fixed time keeps
/// builds reproducible; a plausible one keeps other tar tools from warning about it.
pub const BUILD_MTIME: u64 = 946_684_800;

/// Packs the directory `dir` into a package archive. The same directory contents always give
/// the same bytes: entries are sorted by path, and times, owners and modes are fixed. Symlinks
/// and special files are refused while walking, and the result is checked with [`read`] under
/// the default limits before it is returned, so build never produces what install refuses.
pub fn build(dir: &Path) -> Result<Vec<u8>, ArchiveError> {
    let limits = Limits::default();
    let mut files = Vec::new();
    collect(dir, "", &mut files, &limits)?;
    files.sort_by(|a, b| a.0.cmp(&b.0));

    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ArchiveError::Io { path, source }
    };
    let encoder = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::best());
    let mut tar = tar::Builder::new(encoder);
    for (rel, full, executable) in &files {
        let data = fs::read(full).map_err(io_error(full))?;
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::Regular);
        header.set_size(data.len() as u64);
        header.set_mode(if *executable { 0o755 } else { 0o644 });
        header.set_mtime(BUILD_MTIME);
        header.set_uid(0);
        header.set_gid(0);
        tar.append_data(&mut header, rel, data.as_slice())
            .map_err(io_error(full))?;
    }
    let bytes = tar
        .into_inner()
        .and_then(|gz| gz.finish())
        .map_err(io_error(dir))?;
    read(&bytes, &limits)?;
    Ok(bytes)
}

/// Walks `dir` collecting (relative path, full path, executable) for every regular file,
/// refusing anything else and stopping as soon as a limit is passed.
fn collect(
    dir: &Path,
    prefix: &str,
    out: &mut Vec<(String, PathBuf, bool)>,
    limits: &Limits,
) -> Result<(), ArchiveError> {
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ArchiveError::Io { path, source }
    };
    for item in fs::read_dir(dir).map_err(io_error(dir))? {
        let item = item.map_err(io_error(dir))?;
        let full = item.path();
        let name = item.file_name();
        let Some(name) = name.to_str() else {
            return Err(ArchiveError::UnsafePath {
                entry: format!("{prefix}{}", name.to_string_lossy()),
                reason: "path is not valid UTF-8",
            });
        };
        let rel = format!("{prefix}{name}");
        if normalise(rel.as_bytes()).as_deref() != Ok(rel.as_str()) {
            return Err(ArchiveError::UnsafePath {
                entry: rel,
                reason: "file name cannot be stored safely",
            });
        }
        // symlink_metadata, not metadata: a link must be seen as a link, never followed.
        let meta = fs::symlink_metadata(&full).map_err(io_error(&full))?;
        let file_type = meta.file_type();
        if file_type.is_dir() {
            collect(&full, &format!("{rel}/"), out, limits)?;
            continue;
        }
        if !file_type.is_file() {
            return Err(ArchiveError::ForbiddenType {
                entry: rel,
                kind: special_kind(&file_type),
            });
        }
        if out.len() >= limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                entry: rel,
                limit: limits.max_entries,
            });
        }
        out.push((rel, full, is_executable(&meta)));
    }
    Ok(())
}

#[cfg(unix)]
fn special_kind(file_type: &fs::FileType) -> ForbiddenKind {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_symlink() {
        ForbiddenKind::Symlink
    } else if file_type.is_char_device() {
        ForbiddenKind::CharDevice
    } else if file_type.is_block_device() {
        ForbiddenKind::BlockDevice
    } else if file_type.is_fifo() {
        ForbiddenKind::Fifo
    } else {
        ForbiddenKind::Socket
    }
}

#[cfg(not(unix))]
fn special_kind(file_type: &fs::FileType) -> ForbiddenKind {
    if file_type.is_symlink() {
        ForbiddenKind::Symlink
    } else {
        ForbiddenKind::Other(b'?')
    }
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::manifest::tests::JWT;
    use flate2::Compression;
    use flate2::write::GzEncoder;

    fn small() -> Limits {
        Limits {
            max_entries: 10,
            max_unpacked_bytes: 64 * 1024,
        }
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    /// A header with the name bytes written raw, bypassing the tar crate's path checks, which
    /// would refuse exactly the hostile names these tests need.
    fn raw_header(name: &[u8], kind: EntryType, size: u64) -> Header {
        let mut header = Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(BUILD_MTIME);
        header.set_cksum();
        header
    }

    /// An uncompressed tar of the given entries, preceded by a valid manifest so that each test
    /// fails on its hostile entry and nothing else.
    fn tar_with(entries: &[(Header, &[u8])]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        let manifest = raw_header(b"package.toml", EntryType::Regular, JWT.len() as u64);
        tar.append(&manifest, JWT.as_bytes()).unwrap();
        for (header, data) in entries {
            tar.append(header, *data).unwrap();
        }
        tar.into_inner().unwrap()
    }

    fn file(name: &str, data: &'static [u8]) -> (Header, &'static [u8]) {
        (
            raw_header(name.as_bytes(), EntryType::Regular, data.len() as u64),
            data,
        )
    }

    fn dir(name: &str) -> (Header, &'static [u8]) {
        (raw_header(name.as_bytes(), EntryType::Directory, 0), b"")
    }

    fn read_tar(entries: &[(Header, &[u8])]) -> Result<PackageArchive, ArchiveError> {
        read(&gzip(&tar_with(entries)), &small())
    }

    /// Asserts the error's message names `entry` and returns the error for variant checks.
    fn refused(entries: &[(Header, &[u8])], entry: &str) -> ArchiveError {
        let e = read_tar(entries).unwrap_err();
        assert!(
            e.to_string().contains(&format!("{entry:?}")),
            "message does not name {entry:?}: {e}"
        );
        e
    }

    fn package_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("package.toml"), JWT).unwrap();
        fs::create_dir_all(dir.path().join("docs/img")).unwrap();
        fs::write(dir.path().join("docs/readme.md"), "# JWT\n").unwrap();
        fs::write(dir.path().join("docs/img/logo.txt"), "logo").unwrap();
        fs::write(dir.path().join("a.txt"), "a").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let tool = dir.path().join("tool.sh");
            fs::write(&tool, "#!/bin/sh\n").unwrap();
            fs::set_permissions(&tool, fs::Permissions::from_mode(0o775)).unwrap();
        }
        dir
    }

    #[test]
    fn build_is_reproducible_across_mtimes_and_copies() {
        let one = package_dir();
        let first = build(one.path()).unwrap();
        assert_eq!(first, build(one.path()).unwrap());

        // Touch every file: new mtimes must not change the bytes.
        for path in ["package.toml", "a.txt", "docs/readme.md"] {
            let f = fs::OpenOptions::new()
                .append(true)
                .open(one.path().join(path))
                .unwrap();
            f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(3600))
                .unwrap();
        }
        assert_eq!(first, build(one.path()).unwrap());

        // A second directory with the same contents, created in another order, packs the same.
        let two = package_dir();
        assert_eq!(first, build(two.path()).unwrap());

        // And a change in content does change the bytes, so the comparison above means something.
        fs::write(one.path().join("a.txt"), "b").unwrap();
        assert_ne!(first, build(one.path()).unwrap());
    }

    #[test]
    fn build_fixes_headers_and_sorts_entries() {
        let dir = package_dir();
        let bytes = build(dir.path()).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
        let mut names = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let h = entry.header();
            assert_eq!(h.mtime().unwrap(), BUILD_MTIME);
            assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
            assert_eq!(h.username().unwrap(), Some(""));
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let expected_mode = if name == "tool.sh" { 0o755 } else { 0o644 };
            assert_eq!(h.mode().unwrap(), expected_mode, "{name}");
            names.push(name);
        }
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        // The gzip header carries no time and no file name.
        assert_eq!(&bytes[4..8], &[0, 0, 0, 0]);
        assert_eq!(bytes[3] & 0x08, 0);
    }

    #[test]
    fn round_trip_build_read_write() {
        let dir = package_dir();
        let bytes = build(dir.path()).unwrap();
        let pkg = read(&bytes, &Limits::default()).unwrap();
        assert_eq!(pkg.manifest.name, "json-web-token");
        assert_eq!(pkg.sha256, sha256_hex(&bytes));
        assert_eq!(pkg.archive_size, bytes.len() as u64);
        let paths: Vec<&str> = pkg.files.iter().map(|f| f.path.as_str()).collect();
        let mut expected = vec![
            "a.txt",
            "docs/img/logo.txt",
            "docs/readme.md",
            "package.toml",
        ];
        if cfg!(unix) {
            expected.push("tool.sh");
        }
        assert_eq!(paths, expected);
        assert_eq!(pkg.file("docs/readme.md").unwrap().data, b"# JWT\n");
        assert_eq!(
            pkg.unpacked_size(),
            pkg.files.iter().map(|f| f.data.len() as u64).sum::<u64>()
        );

        let out = tempfile::tempdir().unwrap();
        pkg.write_to(out.path()).unwrap();
        for f in &pkg.files {
            assert_eq!(fs::read(out.path().join(&f.path)).unwrap(), f.data);
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &str| {
                fs::metadata(out.path().join(p))
                    .unwrap()
                    .permissions()
                    .mode()
            };
            assert_eq!(mode("tool.sh") & 0o777, 0o755);
            assert_eq!(mode("a.txt") & 0o111, 0);
        }
        // A second write into the now non-empty directory is refused.
        let e = pkg.write_to(out.path()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn write_to_refuses_unsafe_paths_in_a_hand_made_value() {
        let mut pkg = read(&build(package_dir().path()).unwrap(), &small()).unwrap();
        pkg.files.push(ArchiveFile {
            path: "../escape".into(),
            data: vec![],
            executable: false,
        });
        let out = tempfile::tempdir().unwrap();
        let e = pkg.write_to(out.path()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(!out.path().parent().unwrap().join("escape").exists());
    }

    #[test]
    fn directory_entries_and_dot_prefixes_are_accepted() {
        let pkg = read_tar(&[
            dir("./"),
            dir("./docs/"),
            file("./docs/a.md", b"x"),
            file("b", b"y"),
        ])
        .unwrap();
        let paths: Vec<&str> = pkg.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["b", "docs/a.md", "package.toml"]);
    }

    #[test]
    fn parent_components_are_refused() {
        for name in ["../evil", "a/../../evil", "a/../b"] {
            let e = refused(&[file(name, b"x")], name);
            assert!(
                matches!(&e, ArchiveError::UnsafePath { entry, reason } if entry == name && reason.contains("leaves")),
                "{e}"
            );
        }
        let e = refused(&[file("../evil", b"x")], "../evil");
        assert_eq!(
            e.to_string(),
            "archive entry \"../evil\": path leaves the package directory: entries must be relative paths inside the package"
        );
    }

    #[test]
    fn absolute_and_windows_paths_are_refused() {
        for (name, rule) in [
            ("/etc/passwd", "absolute"),
            ("C:/evil", "drive letter"),
            ("c:evil", "drive letter"),
            ("a\\..\\evil", "backslash"),
        ] {
            let e = refused(&[file(name, b"x")], name);
            assert!(
                matches!(&e, ArchiveError::UnsafePath { reason, .. } if reason.contains(rule)),
                "{name}: {e}"
            );
        }
    }

    #[test]
    fn non_utf8_names_are_refused() {
        let e = read_tar(&[(raw_header(b"bad\xff", EntryType::Regular, 0), b"")]).unwrap_err();
        assert!(matches!(e, ArchiveError::UnsafePath { reason, .. } if reason.contains("UTF-8")));
    }

    #[test]
    fn links_devices_and_fifos_are_refused() {
        let cases = [
            (EntryType::Symlink, ForbiddenKind::Symlink),
            (EntryType::Link, ForbiddenKind::HardLink),
            (EntryType::Char, ForbiddenKind::CharDevice),
            (EntryType::Block, ForbiddenKind::BlockDevice),
            (EntryType::Fifo, ForbiddenKind::Fifo),
            (EntryType::XGlobalHeader, ForbiddenKind::PaxGlobalHeader),
            (EntryType::new(b'V'), ForbiddenKind::Other(b'V')),
            (EntryType::Continuous, ForbiddenKind::Other(b'7')),
        ];
        for (entry_type, expected) in cases {
            let mut header = raw_header(b"special", entry_type, 0);
            if matches!(entry_type, EntryType::Symlink | EntryType::Link) {
                header.set_link_name("package.toml").unwrap();
                header.set_cksum();
            }
            let e = refused(&[(header, b"")], "special");
            assert!(
                matches!(&e, ArchiveError::ForbiddenType { kind, .. } if *kind == expected),
                "{expected:?}: {e}"
            );
        }
        // A GNU sparse entry is refused too; with an empty sparse map the tar crate already
        // rejects its header, which is just as final.
        let sparse = raw_header(b"sparse", EntryType::GNUSparse, 0);
        assert!(read_tar(&[(sparse, b"")]).is_err());
    }

    #[test]
    fn duplicate_names_are_refused() {
        type Case = (Vec<(Header, &'static [u8])>, &'static str);
        let cases: Vec<Case> = vec![
            (vec![file("a", b"1"), file("./a", b"2")], "./a"),
            (vec![file("a", b"1"), dir("a/")], "a/"),
            (vec![dir("d"), file("d", b"1")], "d"),
            (vec![file("d/x", b"1"), file("d", b"1")], "d"),
            (vec![file("d", b"1"), file("d/x", b"1")], "d/x"),
            (vec![dir("d"), dir("./d/")], "./d/"),
            (vec![file("package.toml", b"[package]")], "package.toml"),
        ];
        for (entries, name) in cases {
            let e = refused(&entries, name);
            assert!(
                matches!(&e, ArchiveError::Duplicate { entry, .. } if entry == name),
                "{e}"
            );
        }
        // A directory entry after a file inside it only confirms the directory.
        assert!(read_tar(&[file("d/x", b"1"), dir("d/")]).is_ok());
    }

    #[test]
    fn too_many_entries_are_refused() {
        let names: Vec<String> = (0..10).map(|i| format!("f{i:02}")).collect();
        let entries: Vec<(Header, &[u8])> = names.iter().map(|n| file(n, b"")).collect();
        // The manifest plus ten files is eleven entries, one more than the small limit.
        let e = refused(&entries, "f09");
        assert!(
            matches!(e, ArchiveError::TooManyEntries { limit: 10, .. }),
            "{e}"
        );
        assert!(read_tar(&entries[..9]).is_ok());
    }

    #[test]
    fn declared_size_over_the_limit_is_refused() {
        static BIG: [u8; 40 * 1024] = [7; 40 * 1024];
        let e = refused(&[file("one", &BIG), file("two", &BIG)], "two");
        assert!(
            matches!(e, ArchiveError::TooLarge { limit: 65536, .. }),
            "{e}"
        );
    }

    /// A PAX record as tar writes it: the length counts the whole line, its own digits included.
    fn pax_record(key: &str, value: &str) -> Vec<u8> {
        let body = format!(" {key}={value}\n");
        let mut len = body.len() + 1;
        while format!("{len}{body}").len() != len {
            len += 1;
        }
        format!("{len}{body}").into_bytes()
    }

    #[test]
    fn pax_size_override_is_counted() {
        // The ustar header says 1 byte; the PAX record says 1 GiB. The PAX value is what a
        // reader uses, so it is what the limit must see, before any of it is read.
        let record = pax_record("size", "1073741824");
        let pax = raw_header(b"PaxHeaders/huge", EntryType::XHeader, record.len() as u64);
        let huge = raw_header(b"huge", EntryType::Regular, 1);
        let e = refused(&[(pax, &record), (huge, b"x")], "huge");
        assert!(matches!(e, ArchiveError::TooLarge { .. }), "{e}");
    }

    #[test]
    fn pax_long_names_are_accepted() {
        let long = format!("docs/{}.md", "n".repeat(150));
        let record = pax_record("path", &long);
        let pax = raw_header(b"PaxHeaders/long", EntryType::XHeader, record.len() as u64);
        let pkg = read_tar(&[(pax, &record), file("short", b"x")]).unwrap();
        assert!(pkg.file(&long).is_some());
        // GNU long names, as `build` writes them, read back too.
        let dir = package_dir();
        fs::write(dir.path().join("n".repeat(200)), "x").unwrap();
        let pkg = read(&build(dir.path()).unwrap(), &Limits::default()).unwrap();
        assert!(pkg.file(&"n".repeat(200)).is_some());
    }

    /// Counts the compressed bytes the reader pulls, to prove it stops early on a bomb.
    struct Counting<'a> {
        inner: &'a [u8],
        taken: Rc<Cell<usize>>,
    }

    impl Read for Counting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.taken.set(self.taken.get() + n);
            Ok(n)
        }
    }

    #[test]
    fn gzip_bomb_is_stopped_early() {
        // A small valid package followed by 64 MiB of zeros: every declared size is tiny, so only
        // the cap on inflated bytes can stop this, and it must do so long before the end.
        let mut tar = tar_with(&[]);
        tar.resize(tar.len() + 64 * 1024 * 1024, 0);
        let bomb = gzip(&tar);
        drop(tar);
        assert!(bomb.len() < 200 * 1024, "the bomb is {} bytes", bomb.len());

        let e = read(&bomb, &small()).unwrap_err();
        assert!(matches!(e, ArchiveError::Inflated { .. }), "{e}");
        assert!(e.to_string().contains("\"package.toml\""), "{e}");

        let taken = Rc::new(Cell::new(0));
        let input = io::BufReader::with_capacity(
            512,
            Counting {
                inner: &bomb,
                taken: taken.clone(),
            },
        );
        let e = read_files(input, &small()).unwrap_err();
        assert!(matches!(e, ArchiveError::Inflated { .. }), "{e}");
        assert!(
            taken.get() < bomb.len() / 10,
            "read {} of {} compressed bytes",
            taken.get(),
            bomb.len()
        );
    }

    #[test]
    fn gnu_long_name_bomb_is_stopped() {
        // A GNU long-name record is read whole by the tar crate and is not an entry, so neither
        // the entry count nor the declared sizes see it; the inflate cap must.
        let mut tar = tar::Builder::new(Vec::new());
        let size = 8 * 1024 * 1024;
        let mut longname = Header::new_gnu();
        longname.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        longname.set_entry_type(EntryType::GNULongName);
        longname.set_size(size);
        longname.set_cksum();
        tar.append(&longname, io::repeat(b'a').take(size)).unwrap();
        let e = read(&gzip(&tar.into_inner().unwrap()), &small()).unwrap_err();
        assert!(
            matches!(e, ArchiveError::Inflated { after: None, .. }),
            "{e}"
        );
    }

    #[test]
    fn truncated_gzip_is_corrupt() {
        let bytes = build(package_dir().path()).unwrap();
        for cut in [bytes.len() / 2, bytes.len() - 4] {
            let e = read(&bytes[..cut], &small()).unwrap_err();
            assert!(matches!(e, ArchiveError::Corrupt { .. }), "{e}");
        }
    }

    #[test]
    fn truncated_tar_inside_valid_gzip_is_corrupt() {
        let tar = tar_with(&[file("data", b"0123456789")]);
        // Cut into the data of the last entry: the header promises more than there is.
        let end = tar.len() - 1024 - 512 + 5;
        let e = read(&gzip(&tar[..end]), &small()).unwrap_err();
        assert!(matches!(e, ArchiveError::Corrupt { .. }), "{e}");
        assert!(e.to_string().contains("\"data\""), "{e}");
    }

    #[test]
    fn non_gzip_bytes_are_refused() {
        let tar = tar_with(&[]);
        let e = read(&tar, &small()).unwrap_err();
        assert!(matches!(e, ArchiveError::NotGzip { .. }), "{e}");
        let e = read(b"", &small()).unwrap_err();
        assert!(matches!(e, ArchiveError::NotGzip { .. }), "{e}");
        // Gzip magic followed by nonsense is corruption, not a different format.
        let e = read(&[0x1f, 0x8b, 0, 0, 1, 2, 3], &small()).unwrap_err();
        assert!(matches!(e, ArchiveError::Corrupt { .. }), "{e}");
    }

    #[test]
    fn corrupt_tar_checksum_is_refused() {
        let mut tar = tar_with(&[file("second", b"x")]);
        // The second header starts after the manifest's header and its padded data.
        let second = 512 + JWT.len().div_ceil(512) * 512;
        assert_eq!(&tar[second..second + 6], b"second");
        tar[second] = b'S';
        let e = read(&gzip(&tar), &small()).unwrap_err();
        assert!(
            matches!(&e, ArchiveError::Corrupt { after: Some(a), detail } if a == "package.toml" && detail.contains("checksum")),
            "{e}"
        );
    }

    #[test]
    fn trailing_data_is_refused() {
        let mut tar = tar_with(&[]);
        let clean = gzip(&tar);
        assert!(read(&clean, &small()).is_ok());

        let mut after_gzip = clean.clone();
        after_gzip.extend_from_slice(b"junk");
        let e = read(&after_gzip, &small()).unwrap_err();
        assert!(
            matches!(e, ArchiveError::TrailingData { what } if what.contains("gzip")),
            "{e}"
        );

        tar.extend_from_slice(&[0; 1024]);
        tar.extend_from_slice(b"hidden");
        let e = read(&gzip(&tar), &small()).unwrap_err();
        assert!(
            matches!(e, ArchiveError::TrailingData { what } if what.contains("tar")),
            "{e}"
        );
    }

    #[test]
    fn missing_manifest_is_refused() {
        let mut tar = tar::Builder::new(Vec::new());
        let h = raw_header(b"pkg/package.toml", EntryType::Regular, JWT.len() as u64);
        tar.append(&h, JWT.as_bytes()).unwrap();
        let e = read(&gzip(&tar.into_inner().unwrap()), &small()).unwrap_err();
        assert!(matches!(e, ArchiveError::MissingManifest { .. }), "{e}");
        assert!(e.to_string().contains("\"pkg/package.toml\""), "{e}");
    }

    #[test]
    fn invalid_manifest_is_refused_with_its_field() {
        let dir = package_dir();
        fs::write(
            dir.path().join("package.toml"),
            JWT.replace("kind = \"duration\"", "kind = \"strnig\""),
        )
        .unwrap();
        // build refuses it; so does read when someone else packed it.
        let e = build(dir.path()).unwrap_err();
        assert!(
            matches!(e, ArchiveError::Manifest(ManifestError::Invalid { .. })),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains("package.toml: types[0].attributes[2].kind"),
            "{e}"
        );
    }

    #[test]
    fn build_refuses_what_read_would_refuse() {
        let dir = package_dir();
        fs::remove_file(dir.path().join("package.toml")).unwrap();
        assert!(matches!(
            build(dir.path()),
            Err(ArchiveError::MissingManifest { .. })
        ));

        #[cfg(unix)]
        {
            let dir = package_dir();
            std::os::unix::fs::symlink("a.txt", dir.path().join("docs/link")).unwrap();
            let e = build(dir.path()).unwrap_err();
            assert!(
                matches!(&e, ArchiveError::ForbiddenType { entry, kind: ForbiddenKind::Symlink } if entry == "docs/link"),
                "{e}"
            );

            let dir = package_dir();
            let fifo = dir.path().join("pipe");
            let status = std::process::Command::new("mkfifo").arg(&fifo).status();
            if status.is_ok_and(|s| s.success()) {
                let e = build(dir.path()).unwrap_err();
                assert!(
                    matches!(
                        &e,
                        ArchiveError::ForbiddenType {
                            kind: ForbiddenKind::Fifo,
                            ..
                        }
                    ),
                    "{e}"
                );
            }
        }

        let dir = package_dir();
        fs::write(dir.path().join("back\\slash"), "x").unwrap();
        let e = build(dir.path()).unwrap_err();
        assert!(matches!(e, ArchiveError::UnsafePath { .. }), "{e}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Whatever a tar header says, a path that `normalise` accepts stays inside the
            /// package and is already in normal form.
            #[test]
            fn normalised_paths_stay_inside(raw in "[a-zA-Z0-9./\\\\:]{0,24}") {
                if let Ok(path) = normalise(raw.as_bytes()) {
                    prop_assert!(!path.starts_with('/'));
                    prop_assert!(!path.contains('\\'));
                    for part in path.split('/') {
                        prop_assert!(part != ".." && part != ".");
                        prop_assert!(!part.is_empty() || path.is_empty());
                    }
                    prop_assert_eq!(normalise(path.as_bytes()), Ok(path.clone()));
                }
            }
        }
    }
}
