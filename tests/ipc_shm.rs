//! `goro::ipc::SharedMemory`: a mapping seen by another process, the
//! name rules, the errors, and nothing left behind (fds, `/dev/shm`).
//!
//! The child process is this test binary run again with `GORO_IPC_CHILD`
//! set: `child_entry` then plays the child and exits.

use goro::ipc::SharedMemory;
use std::io::ErrorKind;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The tests count fds and list `/dev/shm`: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn unique(what: &str) -> String {
    format!("/goro-test-shm-{what}-{}", std::process::id())
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn in_dev_shm(name: &str) -> bool {
    std::path::Path::new(&format!("/dev/shm{name}")).exists()
}

const LEN: usize = 1 << 20;

/// Byte `i` of the pattern `seed` writes.
fn pattern(seed: u8, i: usize) -> u8 {
    (i as u8).wrapping_mul(31).wrapping_add(seed)
}

/// The child: opens the object the parent made, checks the parent's
/// pattern in the first half and writes its own in the second.
#[test]
fn child_entry() {
    let Ok(name) = std::env::var("GORO_IPC_CHILD") else {
        return;
    };
    let shm = SharedMemory::open(&name).unwrap();
    assert_eq!(shm.len(), LEN);
    // SAFETY: the mapping is LEN bytes; the parent does not touch it
    // until this process exits.
    let bytes = unsafe { std::slice::from_raw_parts_mut(shm.as_ptr(), LEN) };
    let (parents, ours) = bytes.split_at_mut(LEN / 2);
    for (i, b) in parents.iter().enumerate() {
        assert_eq!(*b, pattern(1, i), "byte {i} of the parent's half");
    }
    for (i, b) in ours.iter_mut().enumerate() {
        *b = pattern(2, i);
    }
}

#[test]
fn child_process_sees_and_writes_the_same_memory() {
    let _serial = serial();
    let name = unique("child");
    let shm = SharedMemory::create(&name, LEN).unwrap();
    // SAFETY: LEN bytes, ours until the child starts.
    let bytes = unsafe { std::slice::from_raw_parts_mut(shm.as_ptr(), LEN) };
    assert!(bytes.iter().all(|&b| b == 0), "a new object is zero-filled");
    for (i, b) in bytes[..LEN / 2].iter_mut().enumerate() {
        *b = pattern(1, i);
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env("GORO_IPC_CHILD", &name)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (i, b) in bytes[LEN / 2..].iter().enumerate() {
        assert_eq!(*b, pattern(2, i), "byte {i} of the child's half");
    }
    SharedMemory::unlink(&name).unwrap();
    assert!(!in_dev_shm(&name));
}

#[test]
fn two_mappings_share_atomics_across_goroutines_and_threads() {
    let _serial = serial();
    let name = unique("atomics");
    let a = Arc::new(SharedMemory::create(&name, 4096).unwrap());
    let b = Arc::new(SharedMemory::open(&name).unwrap());
    assert_ne!(a.as_ptr(), b.as_ptr(), "two mappings, one object");
    let goroutines: Vec<_> = (0..4)
        .map(|i| {
            let shm = if i % 2 == 0 { a.clone() } else { b.clone() };
            goro::go!(add_10_000(shm))
        })
        .collect();
    let thread = std::thread::spawn({
        let b = b.clone();
        move || add_10_000(b)
    });
    for g in goroutines {
        g.join().unwrap();
    }
    thread.join().unwrap();
    // SAFETY: as above.
    let total = unsafe { AtomicU64::from_ptr(a.as_ptr().cast()) }.load(Ordering::Relaxed);
    assert_eq!(total, 50_000);
    SharedMemory::unlink(&name).unwrap();
}

/// Adds 10,000 to the counter in the first 8 bytes of `shm`.
fn add_10_000(shm: Arc<SharedMemory>) {
    // SAFETY: 8 page-aligned bytes used only as this atomic.
    let counter = unsafe { AtomicU64::from_ptr(shm.as_ptr().cast()) };
    for _ in 0..10_000 {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn bad_names_and_zero_length_are_invalid_input() {
    let _serial = serial();
    let long = format!("/{}", "x".repeat(256));
    for name in ["no-slash", "/", "/a/b", "/..", "/nul\0byte", long.as_str()] {
        let err = SharedMemory::create(name, 4096).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{name:?}: {err}");
        assert!(err.to_string().contains("bad shared memory name"), "{err}");
        let err = SharedMemory::open(name).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{name:?}: {err}");
        let err = SharedMemory::unlink(name).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{name:?}: {err}");
    }
    let name = unique("zero");
    let err = SharedMemory::create(&name, 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(!in_dev_shm(&name), "a refused create makes nothing");
}

#[test]
fn existing_missing_and_empty_objects_give_clear_errors() {
    let _serial = serial();
    let name = unique("errors");
    let shm = SharedMemory::create(&name, 4096).unwrap();
    let err = SharedMemory::create(&name, 4096).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    assert!(err.to_string().contains(&name), "{err}");
    SharedMemory::unlink(&name).unwrap();
    drop(shm);

    let err = SharedMemory::open(&name).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains(&name), "{err}");
    assert_eq!(
        SharedMemory::unlink(&name).unwrap_err().kind(),
        ErrorKind::NotFound
    );

    // An object someone made but never sized has nothing to map.
    let empty = format!("/dev/shm{}", unique("empty"));
    std::fs::File::create(&empty).unwrap();
    let err = SharedMemory::open(&unique("empty")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains("empty"), "{err}");
    std::fs::remove_file(&empty).unwrap();
}

#[test]
fn open_maps_the_whole_object() {
    let _serial = serial();
    let name = unique("whole");
    let made = SharedMemory::create(&name, 12_345).unwrap();
    let opened = SharedMemory::open(&name).unwrap();
    assert_eq!(opened.len(), 12_345);
    // SAFETY: both map the same 12,345 bytes; nobody else writes them.
    unsafe {
        made.as_ptr().add(12_344).write(7);
        assert_eq!(opened.as_ptr().add(12_344).read(), 7);
    }
    SharedMemory::unlink(&name).unwrap();
}

#[test]
fn no_fd_or_name_is_left_behind() {
    let _serial = serial();
    let name = unique("leaks");
    let before = open_fds();
    for _ in 0..100 {
        let a = SharedMemory::create(&name, 8192).unwrap();
        let b = SharedMemory::open(&name).unwrap();
        assert!(in_dev_shm(&name));
        SharedMemory::unlink(&name).unwrap();
        drop((a, b));
        assert!(SharedMemory::open(&name).is_err());
    }
    assert_eq!(open_fds(), before, "fds leaked");
    assert!(!in_dev_shm(&name));
}
