//! `goro::fs`: std's file system API for goroutines. Every call that can
//! block in the kernel (open, read, write, stat, readdir, fsync, rename...)
//! runs on the blocking pool ([`crate::blocking`]) while the calling
//! goroutine parks, so a slow disk, an NFS stall or a FIFO waiting for its
//! writer never holds a worker thread. Off the runtime (a plain thread) the
//! same calls are std's, run in place.
//!
//! # Cost, and the buffer that pays for it
//!
//! A pool round trip (queue the job, park, a pool thread runs it, unpark)
//! costs about ten microseconds (9–20 µs measured on a loaded 2-core
//! machine) where a `statx` or a small `read(2)` from the page cache costs
//! well under one (`cargo bench -p goro-compare --bench fs` measures both, and
//! ARCHITECTURE.md has the numbers). So [`File`] does not run one job per
//! call: it keeps one 64 KiB buffer ([`BUFFER_SIZE`]), as `tokio::fs::File`
//! does.
//!
//! * **Reads** smaller than the buffer fill it in one job and are served
//!   from it until it is empty; a read at least as large goes straight into
//!   the caller's buffer (one job, no copy). `read_to_end` and
//!   `read_to_string` read the whole rest of the file in one job. Only a
//!   regular file reads ahead: a FIFO, terminal or device (whose offset
//!   cannot be moved back over unconsumed bytes) is read one job per call.
//! * **Writes** smaller than the buffer are copied into it and return at
//!   once; the buffer is written out in one job when the next write would
//!   not fit, and before any read, seek, `flush`, `sync_all`, `sync_data`,
//!   `set_len`, `metadata`, `try_clone`, `into_std` or drop. A write at least
//!   as large as the buffer is written directly (one job).
//! * **Errors are not lost**: a buffered write that the kernel later
//!   refuses (`ENOSPC`, `EIO`) fails the call that wrote the buffer out
//!   (the next `write`, `flush`, `seek`, `sync_all`, ...); the bytes of the
//!   failed buffer are discarded (as tokio does), so the error is reported
//!   once, not replayed forever. Only **drop** cannot report: it writes the
//!   buffer out and ignores the result, like std's `BufWriter`. Call
//!   `flush` or `sync_all` before dropping when the outcome matters.
//! * **The file offset** is the logical one whenever anyone else can see
//!   it: read-ahead is given back (an `lseek` backwards) before a write,
//!   `set_len`, `try_clone` or `into_std`, and `seek(SeekFrom::Current(n))`
//!   accounts for it. A handle dropped with read-ahead leaves the kernel
//!   offset past what was consumed; that is visible only through another
//!   descriptor of the same open file (a `try_clone`).
//!
//! `&File` implements `Read`, `Write` and `Seek` too (as std's does): the
//! buffer sits behind a goroutine-aware [`Mutex`], so goroutines sharing a
//! `File` park, not block, while one of them waits for the pool.
//!
//! [`read_dir`] reads the directory in batches of [`READ_DIR_BATCH`]
//! entries, one job per batch (the first batch in the job that opens the
//! directory): memory stays bounded for huge directories and a small one
//! costs a single job. Each entry's file type is taken in the batch job, so
//! [`DirEntry::file_type`] never needs the pool; [`DirEntry::metadata`]
//! does.
//!
//! This file must never call a blocking file system function on the
//! calling thread except through [`blocking`], which runs it inline only
//! where no goroutine can be stalled by it. The one exception is `close`:
//! a dropped [`File`] or [`ReadDir`] closes its fd where it is dropped
//! (as tokio's do), which is cheap on a local file system but may flush
//! on a network one.

use std::ffi::OsString;
use std::fmt;
use std::fs::{FileType, Metadata, Permissions};
use std::io::{self, IoSlice, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::blocking::blocking;
use crate::sync::Mutex;

/// Bytes a [`File`] buffers for reads or writes before it runs a pool job;
/// reads and writes at least this large bypass the buffer.
///
/// ```
/// assert_eq!(goro::fs::BUFFER_SIZE, 64 * 1024);
/// ```
pub const BUFFER_SIZE: usize = 64 * 1024;

/// Directory entries [`ReadDir`] reads per pool job.
///
/// ```
/// assert_eq!(goro::fs::READ_DIR_BATCH, 128);
/// ```
pub const READ_DIR_BATCH: usize = 128;

// ---- whole-file and path functions ----------------------------------------

/// Reads the whole file at `path` (std's [`std::fs::read`], on the pool).
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// let manifest = goro::fs::read("Cargo.toml")?;
/// assert!(manifest.starts_with(b"[package]"));
/// # Ok(()) }).unwrap();
/// ```
#[track_caller]
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    let path = path.as_ref();
    blocking(|| std::fs::read(path))
}

/// Reads the whole file at `path` as UTF-8 (std's
/// [`std::fs::read_to_string`], on the pool): `InvalidData` if it is not.
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// let manifest = goro::fs::read_to_string("Cargo.toml")?;
/// assert!(manifest.contains("name = \"goro\""));
/// # Ok(()) }).unwrap();
/// ```
#[track_caller]
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    let path = path.as_ref();
    blocking(|| std::fs::read_to_string(path))
}

/// Creates or truncates the file at `path` and writes `contents` (std's
/// [`std::fs::write`], on the pool).
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// let path = std::env::temp_dir().join(format!("goro-doc-write-{}", std::process::id()));
/// goro::fs::write(&path, "hello")?;
/// assert_eq!(goro::fs::read(&path)?, b"hello");
/// # goro::fs::remove_file(&path) }).unwrap();
/// ```
#[track_caller]
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    let (path, contents) = (path.as_ref(), contents.as_ref());
    blocking(|| std::fs::write(path, contents))
}

/// The metadata of `path`, following symlinks (std's
/// [`std::fs::metadata`], on the pool).
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// assert!(goro::fs::metadata("Cargo.toml")?.is_file());
/// assert!(goro::fs::metadata("runtime")?.is_dir());
/// # Ok(()) }).unwrap();
/// ```
#[track_caller]
pub fn metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    let path = path.as_ref();
    blocking(|| std::fs::metadata(path))
}

/// The metadata of `path` itself, not following a symlink (std's
/// [`std::fs::symlink_metadata`], on the pool).
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// let meta = goro::fs::symlink_metadata("Cargo.toml")?;
/// assert!(!meta.file_type().is_symlink());
/// # Ok(()) }).unwrap();
/// ```
#[track_caller]
pub fn symlink_metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    let path = path.as_ref();
    blocking(|| std::fs::symlink_metadata(path))
}

/// Whether `path` exists, following symlinks; `Err` only when that cannot
/// be told (std's [`std::fs::exists`], on the pool).
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// assert!(goro::fs::exists("Cargo.toml")?);
/// assert!(!goro::fs::exists("no/such/file")?);
/// # Ok(()) }).unwrap();
/// ```
#[track_caller]
pub fn exists<P: AsRef<Path>>(path: P) -> io::Result<bool> {
    let path = path.as_ref();
    blocking(|| std::fs::exists(path))
}

/// Creates the directory `path`; its parent must exist (std's
/// [`std::fs::create_dir`], on the pool).
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// let dir = std::env::temp_dir().join(format!("goro-doc-mkdir-{}", std::process::id()));
/// goro::fs::create_dir(&dir)?;
/// assert!(goro::fs::metadata(&dir)?.is_dir());
/// # goro::fs::remove_dir(&dir) }).unwrap();
/// ```
#[track_caller]
pub fn create_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| std::fs::create_dir(path))
}

/// Creates the directory `path` and every missing parent (std's
/// [`std::fs::create_dir_all`], on the pool).
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// let top = std::env::temp_dir().join(format!("goro-doc-mkdirs-{}", std::process::id()));
/// goro::fs::create_dir_all(top.join("a/b/c"))?;
/// assert!(goro::fs::metadata(top.join("a/b/c"))?.is_dir());
/// # goro::fs::remove_dir_all(&top) }).unwrap();
/// ```
#[track_caller]
pub fn create_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| std::fs::create_dir_all(path))
}

/// Removes the file (or symlink) at `path` (std's
/// [`std::fs::remove_file`], on the pool).
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// let path = std::env::temp_dir().join(format!("goro-doc-rm-{}", std::process::id()));
/// goro::fs::write(&path, "x")?;
/// goro::fs::remove_file(&path)?;
/// assert!(!goro::fs::exists(&path)?);
/// # Ok(()) }).unwrap();
/// ```
#[track_caller]
pub fn remove_file<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| std::fs::remove_file(path))
}

/// Removes the empty directory `path` (std's [`std::fs::remove_dir`], on
/// the pool).
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// let dir = std::env::temp_dir().join(format!("goro-doc-rmdir-{}", std::process::id()));
/// goro::fs::create_dir(&dir)?;
/// goro::fs::remove_dir(&dir)?;
/// assert!(!goro::fs::exists(&dir)?);
/// # Ok(()) }).unwrap();
/// ```
#[track_caller]
pub fn remove_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| std::fs::remove_dir(path))
}

/// Removes the directory `path` and everything under it, in one pool job
/// (std's [`std::fs::remove_dir_all`]).
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// let top = std::env::temp_dir().join(format!("goro-doc-rmtree-{}", std::process::id()));
/// goro::fs::create_dir_all(top.join("a/b"))?;
/// goro::fs::write(top.join("a/b/f"), "x")?;
/// goro::fs::remove_dir_all(&top)?;
/// assert!(!goro::fs::exists(&top)?);
/// # Ok(()) }).unwrap();
/// ```
#[track_caller]
pub fn remove_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| std::fs::remove_dir_all(path))
}

/// Renames `from` to `to`, replacing `to` if it is a file (std's
/// [`std::fs::rename`], on the pool).
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// let a = std::env::temp_dir().join(format!("goro-doc-mv-a-{}", std::process::id()));
/// let b = a.with_extension("b");
/// goro::fs::write(&a, "x")?;
/// goro::fs::rename(&a, &b)?;
/// assert_eq!(goro::fs::read_to_string(&b)?, "x");
/// # goro::fs::remove_file(&b) }).unwrap();
/// ```
#[track_caller]
pub fn rename<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<()> {
    let (from, to) = (from.as_ref(), to.as_ref());
    blocking(|| std::fs::rename(from, to))
}

/// Copies the contents and permissions of `from` to `to` and returns the
/// bytes copied, in one pool job (std's [`std::fs::copy`], which uses
/// `copy_file_range` where it can).
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// let to = std::env::temp_dir().join(format!("goro-doc-cp-{}", std::process::id()));
/// let bytes = goro::fs::copy("Cargo.toml", &to)?;
/// assert_eq!(bytes, goro::fs::metadata(&to)?.len());
/// # goro::fs::remove_file(&to) }).unwrap();
/// ```
#[track_caller]
pub fn copy<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<u64> {
    let (from, to) = (from.as_ref(), to.as_ref());
    blocking(|| std::fs::copy(from, to))
}

/// Makes `link` a new hard link to `original` (std's
/// [`std::fs::hard_link`], on the pool).
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// let a = std::env::temp_dir().join(format!("goro-doc-ln-{}", std::process::id()));
/// let b = a.with_extension("link");
/// goro::fs::write(&a, "shared")?;
/// goro::fs::hard_link(&a, &b)?;
/// assert_eq!(goro::fs::read_to_string(&b)?, "shared");
/// # goro::fs::remove_file(&a)?; goro::fs::remove_file(&b) }).unwrap();
/// ```
#[track_caller]
pub fn hard_link<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    blocking(|| std::fs::hard_link(original, link))
}

/// What the symlink at `path` points to (std's [`std::fs::read_link`], on
/// the pool).
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// let link = std::env::temp_dir().join(format!("goro-doc-readlink-{}", std::process::id()));
/// std::os::unix::fs::symlink("/etc/hostname", &link)?;
/// assert_eq!(goro::fs::read_link(&link)?, std::path::Path::new("/etc/hostname"));
/// # goro::fs::remove_file(&link) }).unwrap();
/// ```
#[track_caller]
pub fn read_link<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    let path = path.as_ref();
    blocking(|| std::fs::read_link(path))
}

/// The absolute path of `path` with every symlink, `.` and `..` resolved
/// (std's [`std::fs::canonicalize`], on the pool).
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// let full = goro::fs::canonicalize("runtime/../Cargo.toml")?;
/// assert!(full.is_absolute() && full.ends_with("Cargo.toml"));
/// # Ok(()) }).unwrap();
/// ```
#[track_caller]
pub fn canonicalize<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    let path = path.as_ref();
    blocking(|| std::fs::canonicalize(path))
}

/// Sets the permissions of `path` (std's [`std::fs::set_permissions`], on
/// the pool).
///
/// ```
/// use std::os::unix::fs::PermissionsExt;
/// # goro::run(|| -> std::io::Result<()> {
/// let path = std::env::temp_dir().join(format!("goro-doc-chmod-{}", std::process::id()));
/// goro::fs::write(&path, "x")?;
/// goro::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
/// assert_eq!(goro::fs::metadata(&path)?.permissions().mode() & 0o777, 0o600);
/// # goro::fs::remove_file(&path) }).unwrap();
/// ```
#[track_caller]
pub fn set_permissions<P: AsRef<Path>>(path: P, perm: Permissions) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| std::fs::set_permissions(path, perm))
}

// ---- directories -----------------------------------------------------------

/// Opens the directory `path` for iteration: the opening and the first
/// batch of entries run in one pool job, each later batch of
/// [`READ_DIR_BATCH`] in another. Entries come in the kernel's order, `.`
/// and `..` left out, as with std.
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// let mut names = Vec::new();
/// for entry in goro::fs::read_dir("runtime")? {
///     names.push(entry?.file_name());
/// }
/// assert!(names.iter().any(|n| n == "fs.rs"));
/// # Ok(()) }).unwrap();
/// ```
#[track_caller]
pub fn read_dir<P: AsRef<Path>>(path: P) -> io::Result<ReadDir> {
    let path = path.as_ref();
    blocking(|| {
        let mut dir = ReadDir {
            entries: std::fs::read_dir(path)?,
            batch: std::collections::VecDeque::new(),
            exhausted: false,
        };
        dir.fill_batch();
        Ok(dir)
    })
}

/// The iterator [`read_dir`] returns: `io::Result<DirEntry>` per entry.
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// let dir: goro::fs::ReadDir = goro::fs::read_dir("runtime")?;
/// let files = dir.filter_map(Result::ok).filter(|e| e.file_type().is_file()).count();
/// assert!(files > 0);
/// # Ok(()) }).unwrap();
/// ```
pub struct ReadDir {
    entries: std::fs::ReadDir,
    batch: std::collections::VecDeque<io::Result<DirEntry>>,
    /// The std iterator returned `None`: no more jobs.
    exhausted: bool,
}

impl ReadDir {
    /// Reads up to [`READ_DIR_BATCH`] entries, with their file types (call
    /// it on the pool).
    fn fill_batch(&mut self) {
        for _ in 0..READ_DIR_BATCH {
            match self.entries.next() {
                Some(entry) => self.batch.push_back(entry.and_then(|entry| {
                    let file_type = entry.file_type()?;
                    Ok(DirEntry { entry, file_type })
                })),
                None => {
                    self.exhausted = true;
                    return;
                }
            }
        }
    }
}

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;

    #[track_caller]
    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        if self.batch.is_empty() && !self.exhausted {
            blocking(|| self.fill_batch());
        }
        self.batch.pop_front()
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadDir")
            .field("buffered", &self.batch.len())
            .field("exhausted", &self.exhausted)
            .finish()
    }
}

/// One entry of a [`ReadDir`]: std's entry, with its file type read in the
/// batch job.
///
/// ```
/// # goro::run(|| -> std::io::Result<()> {
/// let entry: goro::fs::DirEntry = goro::fs::read_dir("runtime")?.next().unwrap()?;
/// println!("{} ({:?})", entry.path().display(), entry.file_type());
/// # Ok(()) }).unwrap();
/// ```
pub struct DirEntry {
    entry: std::fs::DirEntry,
    file_type: FileType,
}

impl DirEntry {
    /// The entry's full path: the directory given to [`read_dir`] joined
    /// with [`file_name`](Self::file_name).
    ///
    /// ```
    /// # goro::run(|| -> std::io::Result<()> {
    /// let entry = goro::fs::read_dir("runtime")?.next().unwrap()?;
    /// assert!(entry.path().starts_with("runtime"));
    /// # Ok(()) }).unwrap();
    /// ```
    pub fn path(&self) -> PathBuf {
        self.entry.path()
    }

    /// The entry's name inside its directory.
    ///
    /// ```
    /// # goro::run(|| -> std::io::Result<()> {
    /// let entry = goro::fs::read_dir("runtime")?.next().unwrap()?;
    /// assert_eq!(entry.path().file_name().unwrap(), entry.file_name());
    /// # Ok(()) }).unwrap();
    /// ```
    pub fn file_name(&self) -> OsString {
        self.entry.file_name()
    }

    /// The entry's file type, not following a symlink (read with the batch:
    /// no pool job).
    ///
    /// ```
    /// # goro::run(|| -> std::io::Result<()> {
    /// for entry in goro::fs::read_dir(".")? {
    ///     let entry = entry?;
    ///     if entry.file_name() == "runtime" {
    ///         assert!(entry.file_type().is_dir());
    ///     }
    /// }
    /// # Ok(()) }).unwrap();
    /// ```
    pub fn file_type(&self) -> FileType {
        self.file_type
    }

    /// The entry's metadata, not following a symlink (one pool job).
    ///
    /// ```
    /// # goro::run(|| -> std::io::Result<()> {
    /// for entry in goro::fs::read_dir("runtime")? {
    ///     let entry = entry?;
    ///     assert_eq!(entry.metadata()?.is_dir(), entry.file_type().is_dir());
    /// }
    /// # Ok(()) }).unwrap();
    /// ```
    #[track_caller]
    pub fn metadata(&self) -> io::Result<Metadata> {
        blocking(|| self.entry.metadata())
    }
}

impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DirEntry").field(&self.path()).finish()
    }
}

// ---- File ------------------------------------------------------------------

/// An open file whose calls run on the blocking pool while the goroutine
/// parks, with one 64 KiB buffer so that small reads and writes do not
/// cost a pool job each (the module docs say exactly when it is written
/// out, and what drop does).
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
/// # goro::run(|| -> std::io::Result<()> {
/// let path = std::env::temp_dir().join(format!("goro-doc-file-{}", std::process::id()));
/// let mut f = goro::fs::File::create(&path)?;
/// for line in 0..1000 {
///     writeln!(f, "line {line}")?; // buffered: a few pool jobs in all
/// }
/// f.flush()?; // a write error would show here
/// let mut f = goro::fs::File::open(&path)?;
/// f.seek(SeekFrom::Start(5))?;
/// let mut digit = [0u8; 1];
/// f.read_exact(&mut digit)?;
/// assert_eq!(&digit, b"0");
/// # goro::fs::remove_file(&path) }).unwrap();
/// ```
pub struct File {
    /// `Some` from opening until [`File::into_std`] takes it out (only the
    /// destructor can see `None` then).
    std: Option<std::fs::File>,
    buffer: Mutex<Buffer>,
}

impl File {
    /// Opens `path` read-only (std's [`std::fs::File::open`], on the pool).
    ///
    /// ```
    /// use std::io::Read;
    /// # goro::run(|| -> std::io::Result<()> {
    /// let mut text = String::new();
    /// goro::fs::File::open("Cargo.toml")?.read_to_string(&mut text)?;
    /// assert!(text.starts_with("[package]"));
    /// # Ok(()) }).unwrap();
    /// ```
    #[track_caller]
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Opens `path` write-only, creating it or truncating it (std's
    /// [`std::fs::File::create`], on the pool).
    ///
    /// ```
    /// use std::io::Write;
    /// # goro::run(|| -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("goro-doc-create-{}", std::process::id()));
    /// let mut f = goro::fs::File::create(&path)?;
    /// f.write_all(b"abc")?;
    /// f.flush()?;
    /// assert_eq!(goro::fs::read(&path)?, b"abc");
    /// # goro::fs::remove_file(&path) }).unwrap();
    /// ```
    #[track_caller]
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    /// Creates `path` read-write, failing with `AlreadyExists` if it exists
    /// (std's [`std::fs::File::create_new`], on the pool).
    ///
    /// ```
    /// # goro::run(|| -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("goro-doc-new-{}", std::process::id()));
    /// goro::fs::File::create_new(&path)?;
    /// let again = goro::fs::File::create_new(&path).unwrap_err();
    /// assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
    /// # goro::fs::remove_file(&path) }).unwrap();
    /// ```
    #[track_caller]
    pub fn create_new<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
    }

    /// A blank [`OpenOptions`] (std's [`std::fs::File::options`]).
    ///
    /// ```
    /// # goro::run(|| -> std::io::Result<()> {
    /// let f = goro::fs::File::options().read(true).open("Cargo.toml")?;
    /// assert!(f.metadata()?.len() > 0);
    /// # Ok(()) }).unwrap();
    /// ```
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps an open std file. Its offset is where goro's reads and writes
    /// start.
    ///
    /// ```
    /// use std::io::Read;
    /// # goro::run(|| -> std::io::Result<()> {
    /// let std_file = std::fs::File::open("Cargo.toml")?;
    /// let mut f = goro::fs::File::from_std(std_file);
    /// let mut head = [0u8; 9];
    /// f.read_exact(&mut head)?;
    /// assert_eq!(&head, b"[package]");
    /// # Ok(()) }).unwrap();
    /// ```
    pub fn from_std(file: std::fs::File) -> File {
        File {
            std: Some(file),
            buffer: Mutex::new(Buffer::default()),
        }
    }

    /// Gives back the std file, after writing out buffered bytes (their
    /// error, if any, is returned and the file closed) and moving the
    /// offset back over read-ahead, so the std file continues exactly where
    /// this one stopped.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// # goro::run(|| -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("goro-doc-into-{}", std::process::id()));
    /// let mut f = goro::fs::File::options().read(true).write(true).create(true).open(&path)?;
    /// f.write_all(b"written by goro")?; // still in the buffer
    /// let std_file: std::fs::File = f.into_std()?;
    /// assert_eq!(std_file.metadata()?.len(), 15);
    /// # goro::fs::remove_file(&path) }).unwrap();
    /// ```
    #[track_caller]
    pub fn into_std(mut self) -> io::Result<std::fs::File> {
        let file = self.std.take().expect("goro: File without its std file");
        self.buffer.get_mut().settle(&file)?;
        Ok(file)
    }

    /// Writes out buffered bytes, then flushes data and metadata to the
    /// device (`fsync`, one pool job each).
    ///
    /// ```
    /// use std::io::Write;
    /// # goro::run(|| -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("goro-doc-sync-{}", std::process::id()));
    /// let mut f = goro::fs::File::create(&path)?;
    /// f.write_all(b"durable")?;
    /// f.sync_all()?;
    /// # goro::fs::remove_file(&path) }).unwrap();
    /// ```
    #[track_caller]
    pub fn sync_all(&self) -> io::Result<()> {
        let file = self.std_file();
        self.buffer.lock().flush_writes(file)?;
        blocking(|| file.sync_all())
    }

    /// As [`sync_all`](Self::sync_all), but without the metadata that
    /// reading the data does not need (`fdatasync`).
    ///
    /// ```
    /// use std::io::Write;
    /// # goro::run(|| -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("goro-doc-datasync-{}", std::process::id()));
    /// let mut f = goro::fs::File::create(&path)?;
    /// f.write_all(b"durable")?;
    /// f.sync_data()?;
    /// # goro::fs::remove_file(&path) }).unwrap();
    /// ```
    #[track_caller]
    pub fn sync_data(&self) -> io::Result<()> {
        let file = self.std_file();
        self.buffer.lock().flush_writes(file)?;
        blocking(|| file.sync_data())
    }

    /// Truncates or extends the file to `size` bytes; the offset does not
    /// move (std's [`std::fs::File::set_len`], on the pool).
    ///
    /// ```
    /// # goro::run(|| -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("goro-doc-setlen-{}", std::process::id()));
    /// let f = goro::fs::File::create(&path)?;
    /// f.set_len(4096)?;
    /// assert_eq!(f.metadata()?.len(), 4096);
    /// # goro::fs::remove_file(&path) }).unwrap();
    /// ```
    #[track_caller]
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        let file = self.std_file();
        self.buffer.lock().settle(file)?;
        blocking(|| file.set_len(size))
    }

    /// The file's metadata, after writing out buffered bytes so that the
    /// length counts them (std's [`std::fs::File::metadata`], on the pool).
    ///
    /// ```
    /// use std::io::Write;
    /// # goro::run(|| -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("goro-doc-fmeta-{}", std::process::id()));
    /// let mut f = goro::fs::File::create(&path)?;
    /// f.write_all(b"12345")?;
    /// assert_eq!(f.metadata()?.len(), 5);
    /// # goro::fs::remove_file(&path) }).unwrap();
    /// ```
    #[track_caller]
    pub fn metadata(&self) -> io::Result<Metadata> {
        let file = self.std_file();
        self.buffer.lock().flush_writes(file)?;
        blocking(|| file.metadata())
    }

    /// Changes the file's permissions (std's
    /// [`std::fs::File::set_permissions`], on the pool).
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    /// # goro::run(|| -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("goro-doc-fchmod-{}", std::process::id()));
    /// let f = goro::fs::File::create(&path)?;
    /// f.set_permissions(std::fs::Permissions::from_mode(0o640))?;
    /// assert_eq!(f.metadata()?.permissions().mode() & 0o777, 0o640);
    /// # goro::fs::remove_file(&path) }).unwrap();
    /// ```
    #[track_caller]
    pub fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        let file = self.std_file();
        blocking(|| file.set_permissions(perm))
    }

    /// A second handle on the same open file (`dup`: one shared offset),
    /// after writing out buffered bytes and giving back read-ahead so both
    /// start at this one's logical position. Each handle has its own
    /// buffer.
    ///
    /// ```
    /// use std::io::{Read, Seek, SeekFrom};
    /// # goro::run(|| -> std::io::Result<()> {
    /// let mut a = goro::fs::File::open("Cargo.toml")?;
    /// a.seek(SeekFrom::Start(1))?;
    /// let mut b = a.try_clone()?;
    /// let mut byte = [0u8; 1];
    /// b.read_exact(&mut byte)?;
    /// assert_eq!(&byte, b"p"); // "[package]", from offset 1
    /// # Ok(()) }).unwrap();
    /// ```
    #[track_caller]
    pub fn try_clone(&self) -> io::Result<File> {
        let file = self.std_file();
        self.buffer.lock().settle(file)?;
        blocking(|| file.try_clone()).map(File::from_std)
    }

    fn std_file(&self) -> &std::fs::File {
        self.std.as_ref().expect("goro: File without its std file")
    }

    /// The std file and the buffer, without locking (`&mut self`).
    fn parts(&mut self) -> (&std::fs::File, &mut Buffer) {
        let file = self.std.as_ref().expect("goro: File without its std file");
        (file, self.buffer.get_mut())
    }
}

impl Drop for File {
    /// Writes out buffered bytes, ignoring an error (call `flush` or
    /// `sync_all` first to see it); read-ahead is dropped.
    fn drop(&mut self) {
        if let Some(file) = &self.std {
            let _ = self.buffer.get_mut().flush_writes(file);
        }
    }
}

impl Read for File {
    #[track_caller]
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let (file, buffer) = self.parts();
        buffer.read(file, out)
    }

    #[track_caller]
    fn read_to_end(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        let (file, buffer) = self.parts();
        buffer.read_to_end(file, out)
    }

    #[track_caller]
    fn read_to_string(&mut self, out: &mut String) -> io::Result<usize> {
        let (file, buffer) = self.parts();
        buffer.read_to_string(file, out)
    }
}

impl Read for &File {
    #[track_caller]
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.buffer.lock().read(self.std_file(), out)
    }

    #[track_caller]
    fn read_to_end(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        self.buffer.lock().read_to_end(self.std_file(), out)
    }

    #[track_caller]
    fn read_to_string(&mut self, out: &mut String) -> io::Result<usize> {
        self.buffer.lock().read_to_string(self.std_file(), out)
    }
}

impl Write for File {
    #[track_caller]
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let (file, buffer) = self.parts();
        buffer.write(file, data)
    }

    #[track_caller]
    fn write_vectored(&mut self, data: &[IoSlice<'_>]) -> io::Result<usize> {
        let (file, buffer) = self.parts();
        buffer.write_vectored(file, data)
    }

    #[track_caller]
    fn flush(&mut self) -> io::Result<()> {
        let (file, buffer) = self.parts();
        buffer.flush_writes(file)
    }
}

impl Write for &File {
    #[track_caller]
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.lock().write(self.std_file(), data)
    }

    #[track_caller]
    fn write_vectored(&mut self, data: &[IoSlice<'_>]) -> io::Result<usize> {
        self.buffer.lock().write_vectored(self.std_file(), data)
    }

    #[track_caller]
    fn flush(&mut self) -> io::Result<()> {
        self.buffer.lock().flush_writes(self.std_file())
    }
}

impl Seek for File {
    #[track_caller]
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let (file, buffer) = self.parts();
        buffer.seek(file, pos)
    }
}

impl Seek for &File {
    #[track_caller]
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.buffer.lock().seek(self.std_file(), pos)
    }
}

impl From<std::fs::File> for File {
    fn from(file: std::fs::File) -> File {
        File::from_std(file)
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.std_file().as_raw_fd()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.std_file().as_fd()
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("fd", &self.std.as_ref().map(AsRawFd::as_raw_fd))
            .finish()
    }
}

/// A [`File`]'s buffer: read-ahead (`bytes[start..end]`, not yet consumed)
/// or pending writes (`bytes[..end]`, not yet in the kernel), never both.
#[derive(Default)]
struct Buffer {
    /// Empty until first needed, then `BUFFER_SIZE` zeroed bytes, kept.
    bytes: Vec<u8>,
    start: usize,
    end: usize,
    /// `bytes[..end]` holds pending writes (else read-ahead).
    dirty: bool,
    /// Whether small reads fill the buffer: only on a regular file, whose
    /// offset can be moved back over what was not consumed. A FIFO, a
    /// terminal or a character device is read straight into the caller's
    /// memory, one job per call (`None`: not known until the first read).
    reads_ahead: Option<bool>,
}

impl Buffer {
    fn storage(&mut self) -> &mut [u8] {
        if self.bytes.is_empty() {
            self.bytes = vec![0; BUFFER_SIZE];
        }
        &mut self.bytes
    }

    /// Read-ahead bytes not yet handed out (none while writes are pending).
    fn unread(&self) -> usize {
        if self.dirty {
            0
        } else {
            self.end - self.start
        }
    }

    /// Writes the pending bytes out in one pool job. They are gone
    /// afterwards, written or not: an error is reported once, here.
    #[track_caller]
    fn flush_writes(&mut self, file: &std::fs::File) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let pending = &self.bytes[..self.end];
        let written = blocking(|| (&*file).write_all(pending));
        (self.start, self.end, self.dirty) = (0, 0, false);
        written
    }

    /// Makes the kernel's offset the logical one: pending writes out,
    /// read-ahead given back.
    #[track_caller]
    fn settle(&mut self, file: &std::fs::File) -> io::Result<()> {
        self.flush_writes(file)?;
        let unread = self.unread();
        (self.start, self.end) = (0, 0);
        if unread > 0 {
            blocking(|| (&*file).seek(SeekFrom::Current(-(unread as i64))))?;
        }
        Ok(())
    }

    /// Hands out read-ahead into `out`.
    fn take_unread(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.unread());
        out[..n].copy_from_slice(&self.bytes[self.start..self.start + n]);
        self.start += n;
        n
    }

    #[track_caller]
    fn read(&mut self, file: &std::fs::File, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        self.flush_writes(file)?;
        if self.unread() > 0 {
            return Ok(self.take_unread(out));
        }
        if out.len() >= BUFFER_SIZE || self.reads_ahead == Some(false) {
            return blocking(|| (&*file).read(out));
        }
        let known = self.reads_ahead;
        let storage = self.storage();
        // The first fill also asks what the file is (one `statx` in the
        // same job): only a regular file can take read-ahead back.
        let (reads_ahead, read) = blocking(|| {
            let reads_ahead =
                known.unwrap_or_else(|| file.metadata().is_ok_and(|m| m.file_type().is_file()));
            let into = if reads_ahead { storage } else { &mut *out };
            (reads_ahead, (&*file).read(into))
        });
        self.reads_ahead = Some(reads_ahead);
        if !reads_ahead {
            return read;
        }
        (self.start, self.end) = (0, read?);
        Ok(self.take_unread(out))
    }

    /// The rest of the file in one pool job (after the read-ahead).
    #[track_caller]
    fn read_to_end(&mut self, file: &std::fs::File, out: &mut Vec<u8>) -> io::Result<usize> {
        self.flush_writes(file)?;
        let buffered = self.unread();
        out.extend_from_slice(&self.bytes[self.start..self.end]);
        (self.start, self.end) = (0, 0);
        Ok(buffered + blocking(|| (&*file).read_to_end(out))?)
    }

    /// As `read_to_end`, checked as UTF-8 as a whole (read-ahead may end
    /// inside a character); on `InvalidData` `out` is left as it was.
    #[track_caller]
    fn read_to_string(&mut self, file: &std::fs::File, out: &mut String) -> io::Result<usize> {
        self.flush_writes(file)?;
        if self.unread() == 0 {
            return blocking(|| (&*file).read_to_string(out));
        }
        let mut bytes = Vec::new();
        let n = self.read_to_end(file, &mut bytes)?;
        let text = String::from_utf8(bytes).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            )
        })?;
        out.push_str(&text);
        Ok(n)
    }

    #[track_caller]
    fn write(&mut self, file: &std::fs::File, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if !self.dirty {
            self.settle(file)?;
        }
        if self.end + data.len() > BUFFER_SIZE {
            self.flush_writes(file)?;
        }
        if data.len() >= BUFFER_SIZE {
            return blocking(|| (&*file).write(data));
        }
        let at = self.end;
        self.storage()[at..at + data.len()].copy_from_slice(data);
        (self.end, self.dirty) = (at + data.len(), true);
        Ok(data.len())
    }

    /// Buffers the first slice that is not empty, as `Write`'s default
    /// does, so small writes stay one copy each.
    #[track_caller]
    fn write_vectored(&mut self, file: &std::fs::File, data: &[IoSlice<'_>]) -> io::Result<usize> {
        let first = data.iter().find(|slice| !slice.is_empty());
        self.write(file, first.map_or(&[][..], |slice| slice))
    }

    #[track_caller]
    fn seek(&mut self, file: &std::fs::File, pos: SeekFrom) -> io::Result<u64> {
        self.flush_writes(file)?;
        let unread = self.unread() as i64;
        (self.start, self.end) = (0, 0);
        let pos = match pos {
            SeekFrom::Current(n) => SeekFrom::Current(n.checked_sub(unread).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "seek offset overflows")
            })?),
            other => other,
        };
        blocking(|| (&*file).seek(pos))
    }
}

// ---- OpenOptions -----------------------------------------------------------

/// How to open a [`File`]: std's builder (`&mut self` setters, then
/// [`open`](Self::open)), opening on the pool. `mode` and `custom_flags`
/// come from [`OpenOptionsExt`].
///
/// ```
/// use std::io::Write;
/// # goro::run(|| -> std::io::Result<()> {
/// let path = std::env::temp_dir().join(format!("goro-doc-opts-{}", std::process::id()));
/// let mut log = goro::fs::OpenOptions::new().append(true).create(true).open(&path)?;
/// log.write_all(b"one\n")?;
/// drop(log);
/// let mut log = goro::fs::OpenOptions::new().append(true).open(&path)?;
/// log.write_all(b"two\n")?;
/// log.flush()?;
/// assert_eq!(goro::fs::read_to_string(&path)?, "one\ntwo\n");
/// # goro::fs::remove_file(&path) }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions(std::fs::OpenOptions);

impl OpenOptions {
    /// Every option off (std's [`std::fs::OpenOptions::new`]).
    ///
    /// ```
    /// let err = goro::fs::OpenOptions::new().open("Cargo.toml").unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput); // neither read nor write
    /// ```
    pub fn new() -> OpenOptions {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Open for reading.
    ///
    /// ```
    /// assert!(goro::fs::OpenOptions::new().read(true).open("Cargo.toml").is_ok());
    /// ```
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.0.read(read);
        self
    }

    /// Open for writing (from the start, overwriting, unless `append`).
    ///
    /// ```
    /// # goro::run(|| -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("goro-doc-optw-{}", std::process::id()));
    /// goro::fs::write(&path, "xyz")?;
    /// let mut f = goro::fs::OpenOptions::new().write(true).open(&path)?;
    /// std::io::Write::write_all(&mut f, b"a")?;
    /// drop(f);
    /// assert_eq!(goro::fs::read(&path)?, b"ayz");
    /// # goro::fs::remove_file(&path) }).unwrap();
    /// ```
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.0.write(write);
        self
    }

    /// Every write goes to the end of the file (`O_APPEND`); implies
    /// writing.
    ///
    /// ```
    /// # goro::run(|| -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("goro-doc-opta-{}", std::process::id()));
    /// goro::fs::write(&path, "ab")?;
    /// let mut f = goro::fs::OpenOptions::new().append(true).open(&path)?;
    /// std::io::Write::write_all(&mut f, b"c")?;
    /// drop(f);
    /// assert_eq!(goro::fs::read(&path)?, b"abc");
    /// # goro::fs::remove_file(&path) }).unwrap();
    /// ```
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.0.append(append);
        self
    }

    /// Truncate an existing file to length 0 (needs `write`).
    ///
    /// ```
    /// # goro::run(|| -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("goro-doc-optt-{}", std::process::id()));
    /// goro::fs::write(&path, "old")?;
    /// goro::fs::OpenOptions::new().write(true).truncate(true).open(&path)?;
    /// assert_eq!(goro::fs::metadata(&path)?.len(), 0);
    /// # goro::fs::remove_file(&path) }).unwrap();
    /// ```
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.0.truncate(truncate);
        self
    }

    /// Create the file if it does not exist (needs `write` or `append`).
    ///
    /// ```
    /// # goro::run(|| -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("goro-doc-optc-{}", std::process::id()));
    /// goro::fs::OpenOptions::new().write(true).create(true).open(&path)?;
    /// assert!(goro::fs::exists(&path)?);
    /// # goro::fs::remove_file(&path) }).unwrap();
    /// ```
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.0.create(create);
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists
    /// (`O_EXCL`).
    ///
    /// ```
    /// let err = goro::fs::OpenOptions::new()
    ///     .write(true)
    ///     .create_new(true)
    ///     .open("Cargo.toml")
    ///     .unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    /// ```
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.0.create_new(create_new);
        self
    }

    /// Opens `path` with these options, on the pool while the goroutine
    /// parks (an open can block: a FIFO waits for its other end, a network
    /// file system for the server).
    ///
    /// ```
    /// # goro::run(|| -> std::io::Result<()> {
    /// let err = goro::fs::OpenOptions::new().read(true).open("no/such/file").unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// # Ok(()) }).unwrap();
    /// ```
    #[track_caller]
    pub fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        let path = path.as_ref();
        blocking(|| self.0.open(path)).map(File::from_std)
    }
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl OpenOptionsExt for OpenOptions {
    /// The permission bits a created file gets, before the umask (default
    /// `0o666`).
    ///
    /// ```
    /// use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    /// # goro::run(|| -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("goro-doc-mode-{}", std::process::id()));
    /// let f = goro::fs::OpenOptions::new().write(true).create(true).mode(0o600).open(&path)?;
    /// assert_eq!(f.metadata()?.permissions().mode() & 0o777, 0o600);
    /// # goro::fs::remove_file(&path) }).unwrap();
    /// ```
    fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.0.mode(mode);
        self
    }

    /// Extra `open(2)` flags (`libc::O_NOFOLLOW`, `O_DIRECT`, ...).
    ///
    /// ```
    /// use std::os::unix::fs::OpenOptionsExt;
    /// # goro::run(|| -> std::io::Result<()> {
    /// let link = std::env::temp_dir().join(format!("goro-doc-nofollow-{}", std::process::id()));
    /// std::os::unix::fs::symlink("/etc/hostname", &link)?;
    /// let refused = goro::fs::OpenOptions::new()
    ///     .read(true)
    ///     .custom_flags(libc::O_NOFOLLOW)
    ///     .open(&link);
    /// assert_eq!(refused.unwrap_err().raw_os_error(), Some(libc::ELOOP));
    /// # goro::fs::remove_file(&link) }).unwrap();
    /// ```
    fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.0.custom_flags(flags);
        self
    }
}
