//! POSIX shared memory: a named object (`shm_open`) mapped into the
//! process (`mmap`, `MAP_SHARED`), so that every process that maps the
//! same name sees the same bytes, with no copy through the kernel.
//!
//! [`SharedMemory`] is only the mapping: it says nothing of what the bytes
//! mean nor how processes take turns with them (that is the user's
//! protocol, or [`ShmRing`](super::ShmRing)'s). Every call here is a short
//! syscall on a memory file system (no I/O that can wait), so it runs on
//! the calling worker directly; nothing here ever parks.
//!
//! Names follow shm_open(3): a leading `/`, no other `/`, at most
//! `NAME_MAX` (255) bytes after it. As in POSIX, a name outlives every
//! mapping until [`SharedMemory::unlink`] removes it.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

/// A mapping of a named POSIX shared-memory object, readable and writable,
/// shared with every process that maps the same name.
///
/// Dropping it unmaps the memory; the name stays until
/// [`unlink`](SharedMemory::unlink). The object's descriptor is closed as
/// soon as the memory is mapped (the mapping keeps the object alive), so a
/// `SharedMemory` holds no fd.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use goro::ipc::SharedMemory;
/// let name = format!("/goro-doc-shm-{}", std::process::id());
/// let a = SharedMemory::create(&name, 4096)?;
/// let b = SharedMemory::open(&name)?; // another process would do this
/// // SAFETY: both mappings are 4096 bytes long and nobody else writes them.
/// unsafe {
///     a.as_ptr().write(42);
///     assert_eq!(b.as_ptr().read(), 42);
/// }
/// SharedMemory::unlink(&name)?;
/// # Ok(()) }
/// ```
pub struct SharedMemory {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a `SharedMemory` is an address range owned by the process, not
// by a thread: any thread may use or unmap it. It hands out only a raw
// pointer, so whoever reads or writes through it decides the
// synchronisation (as with memory another process writes anyway).
unsafe impl Send for SharedMemory {}
// SAFETY: `&SharedMemory` only exposes the pointer and the length, both
// immutable; see `Send`.
unsafe impl Sync for SharedMemory {}

impl SharedMemory {
    /// Creates the object `name` (which must not exist yet: `AlreadyExists`
    /// otherwise), sizes it to `len` bytes (zero-filled) and maps it.
    /// Mode 0600: only the same user may open it. Fails with `InvalidInput`
    /// for a bad name or `len == 0`; on any failure after the object was
    /// made, removes it again.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::SharedMemory;
    /// let name = format!("/goro-doc-create-{}", std::process::id());
    /// let shm = SharedMemory::create(&name, 100)?;
    /// assert_eq!(shm.len(), 100);
    /// let again = SharedMemory::create(&name, 100).err().unwrap();
    /// assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
    /// let zero = SharedMemory::create("/goro-doc-zero", 0).err().unwrap();
    /// assert_eq!(zero.kind(), std::io::ErrorKind::InvalidInput);
    /// SharedMemory::unlink(&name)?;
    /// # Ok(()) }
    /// ```
    pub fn create(name: &str, len: usize) -> io::Result<SharedMemory> {
        let cname = checked_name(name)?;
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("shared memory {name}: length must be at least 1 byte"),
            ));
        }
        let size = libc::off_t::try_from(len).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("shared memory {name}: length {len} is too large"),
            )
        })?;
        let fd = shm_open(&cname, libc::O_CREAT | libc::O_EXCL | libc::O_RDWR)
            .map_err(|e| with_name(e, "create", name))?;
        let mapped = truncate(&fd, size).and_then(|()| map(&fd, len));
        match mapped {
            Ok(ptr) => Ok(SharedMemory { ptr, len }),
            Err(e) => {
                // We made it: leave nothing behind (the fd closes on return).
                // SAFETY: `cname` is a valid NUL-terminated string.
                unsafe { libc::shm_unlink(cname.as_ptr()) };
                Err(with_name(e, "create", name))
            }
        }
    }

    /// Maps the whole of the existing object `name` (its size is read with
    /// fstat). Fails with `NotFound` if there is none, `InvalidInput` for a
    /// bad name, `InvalidData` if the object is empty (nothing to map).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::SharedMemory;
    /// let name = format!("/goro-doc-open-{}", std::process::id());
    /// let _made = SharedMemory::create(&name, 8192)?;
    /// assert_eq!(SharedMemory::open(&name)?.len(), 8192);
    /// SharedMemory::unlink(&name)?;
    /// let gone = SharedMemory::open(&name).err().unwrap();
    /// assert_eq!(gone.kind(), std::io::ErrorKind::NotFound);
    /// # Ok(()) }
    /// ```
    pub fn open(name: &str) -> io::Result<SharedMemory> {
        let cname = checked_name(name)?;
        let fd = shm_open(&cname, libc::O_RDWR).map_err(|e| with_name(e, "open", name))?;
        let len = object_len(&fd).map_err(|e| with_name(e, "open", name))?;
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("open shared memory {name}: the object is empty (0 bytes)"),
            ));
        }
        let ptr = map(&fd, len).map_err(|e| with_name(e, "open", name))?;
        Ok(SharedMemory { ptr, len })
    }

    /// The first byte of the mapping; `len()` bytes from it are readable
    /// and writable (page-aligned, so any type's alignment holds there).
    /// Other processes may write them at any time: reading and writing
    /// through the pointer is `unsafe`, and shared state needs atomics.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// let name = format!("/goro-doc-ptr-{}", std::process::id());
    /// let shm = goro::ipc::SharedMemory::create(&name, 8)?;
    /// // SAFETY: 8 page-aligned bytes, only ever used as this atomic.
    /// let counter = unsafe { AtomicU64::from_ptr(shm.as_ptr().cast()) };
    /// counter.fetch_add(1, Ordering::SeqCst);
    /// assert_eq!(counter.load(Ordering::SeqCst), 1);
    /// goro::ipc::SharedMemory::unlink(&name)?;
    /// # Ok(()) }
    /// ```
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The length of the mapping in bytes (never 0).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let name = format!("/goro-doc-len-{}", std::process::id());
    /// let shm = goro::ipc::SharedMemory::create(&name, 10_000)?;
    /// assert_eq!(shm.len(), 10_000);
    /// goro::ipc::SharedMemory::unlink(&name)?;
    /// # Ok(()) }
    /// ```
    #[allow(clippy::len_without_is_empty)] // never empty: create and open refuse 0
    pub fn len(&self) -> usize {
        self.len
    }

    /// Removes the name `name`: later opens fail with `NotFound`, while
    /// existing mappings (in every process) stay valid until dropped.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let name = format!("/goro-doc-unlink-{}", std::process::id());
    /// let shm = goro::ipc::SharedMemory::create(&name, 16)?;
    /// goro::ipc::SharedMemory::unlink(&name)?;
    /// // SAFETY: the mapping is 16 bytes and ours alone.
    /// unsafe { shm.as_ptr().write(1) }; // still mapped
    /// let again = goro::ipc::SharedMemory::unlink(&name).unwrap_err();
    /// assert_eq!(again.kind(), std::io::ErrorKind::NotFound);
    /// # Ok(()) }
    /// ```
    pub fn unlink(name: &str) -> io::Result<()> {
        let cname = checked_name(name)?;
        // SAFETY: `cname` is a valid NUL-terminated string.
        if unsafe { libc::shm_unlink(cname.as_ptr()) } < 0 {
            return Err(with_name(io::Error::last_os_error(), "unlink", name));
        }
        Ok(())
    }
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly the range `map` returned, mapped
        // once and unmapped only here; `&mut self` means no borrow of it
        // remains in this `SharedMemory`'s safe API.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

impl std::fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedMemory")
            .field("ptr", &self.ptr)
            .field("len", &self.len)
            .finish()
    }
}

/// `name` as shm_open(3) takes it, or `InvalidInput` saying what is wrong.
pub(crate) fn checked_name(name: &str) -> io::Result<CString> {
    let cname = super::posix_name(name, "shared memory")?;
    // The object directory itself and its parent: no object can bear them.
    if name == "/." || name == "/.." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad shared memory name {name:?}: '.' and '..' are not names"),
        ));
    }
    Ok(cname)
}

/// shm_open(3) with mode 0600 (glibc sets `FD_CLOEXEC`).
fn shm_open(name: &CString, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: `name` is a valid NUL-terminated string; the returned fd, if
    // any, is new and ours alone.
    let fd = unsafe { libc::shm_open(name.as_ptr(), flags, 0o600) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn truncate(fd: &OwnedFd, size: libc::off_t) -> io::Result<()> {
    // SAFETY: ftruncate only resizes the object behind a valid fd.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), size) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The object's size in bytes (fstat).
fn object_len(fd: &OwnedFd) -> io::Result<usize> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a whole `stat` into `st` on success, which is
    // the only case in which we read it.
    let st = unsafe {
        if libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) < 0 {
            return Err(io::Error::last_os_error());
        }
        st.assume_init()
    };
    usize::try_from(st.st_size).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
}

/// mmap of `len` bytes of `fd`, shared, readable and writable.
fn map(fd: &OwnedFd, len: usize) -> io::Result<NonNull<u8>> {
    // SAFETY: a fresh mapping chosen by the kernel (null hint) overlaps
    // nothing of ours; on failure it returns MAP_FAILED and maps nothing.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap returned a null mapping"))
}

/// `err` with what we were doing and to which name, keeping its kind.
pub(crate) fn with_name(err: io::Error, what: &str, name: &str) -> io::Error {
    io::Error::new(err.kind(), format!("{what} shared memory {name}: {err}"))
}
