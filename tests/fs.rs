//! `goro::fs`: round trips, the errors std gives, write errors that are
//! reported, buffering that batches syscalls, fds not leaked, a blocking
//! open that parks its goroutine instead of its worker, and plain threads.
//!
//! The tests take one lock: they count the process's fds, syscalls and
//! threads, and one sets `gomaxprocs(1)`.

use goro::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh directory for one test, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("goro-fs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// One counter of /proc/self/io (`syscr`: read calls, `syscw`: write calls).
fn io_counter(name: &str) -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": ")?.parse().ok())
        .unwrap()
}

fn worker_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("goro-worker"))
        .count()
}

// ---- round trips -----------------------------------------------------------

#[test]
fn whole_file_functions_round_trip() {
    let _serial = serial();
    let dir = Scratch::new("whole");
    let p = dir.path("a.txt");
    goro::run(move || {
        goro::fs::write(&p, b"hello")?;
        assert_eq!(goro::fs::read(&p)?, b"hello");
        goro::fs::write(&p, String::from("replaced"))?;
        assert_eq!(goro::fs::read_to_string(&p)?, "replaced");
        assert_eq!(goro::fs::metadata(&p)?.len(), 8);
        assert!(goro::fs::exists(&p)?);
        std::io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn directories_copy_rename_remove() {
    let _serial = serial();
    let dir = Scratch::new("tree");
    let root = dir.0.clone();
    goro::run(move || {
        goro::fs::create_dir_all(root.join("x/y/z"))?;
        assert!(goro::fs::metadata(root.join("x/y/z"))?.is_dir());
        goro::fs::write(root.join("a"), "abc")?;
        assert_eq!(goro::fs::copy(root.join("a"), root.join("b"))?, 3);
        goro::fs::rename(root.join("b"), root.join("x/c"))?;
        assert_eq!(goro::fs::read_to_string(root.join("x/c"))?, "abc");
        assert!(!goro::fs::exists(root.join("b"))?);
        goro::fs::remove_file(root.join("x/c"))?;
        assert!(!goro::fs::exists(root.join("x/c"))?);
        goro::fs::hard_link(root.join("a"), root.join("hard"))?;
        assert_eq!(goro::fs::read(root.join("hard"))?, b"abc");
        std::os::unix::fs::symlink(root.join("a"), root.join("soft"))?;
        assert_eq!(goro::fs::read_link(root.join("soft"))?, root.join("a"));
        assert!(goro::fs::symlink_metadata(root.join("soft"))?.is_symlink());
        assert_eq!(
            goro::fs::canonicalize(root.join("x/../soft"))?,
            goro::fs::canonicalize(root.join("a"))?
        );
        goro::fs::remove_dir(root.join("x/y/z"))?;
        goro::fs::remove_dir_all(root.join("x"))?;
        assert!(!goro::fs::exists(root.join("x"))?);
        std::io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn read_dir_lists_every_entry_across_batches() {
    let _serial = serial();
    let dir = Scratch::new("readdir");
    // More than two batches, and one directory among the files.
    let files = 2 * goro::fs::READ_DIR_BATCH + 7;
    for i in 0..files {
        std::fs::write(dir.path(&format!("f{i:04}")), "x").unwrap();
    }
    std::fs::create_dir(dir.path("sub")).unwrap();
    let root = dir.0.clone();
    let (mut names, dirs) = goro::run(move || {
        let mut names = Vec::new();
        let mut dirs = Vec::new();
        for entry in goro::fs::read_dir(&root)? {
            let entry = entry?;
            assert_eq!(entry.path(), root.join(entry.file_name()));
            assert_eq!(entry.metadata()?.is_dir(), entry.file_type().is_dir());
            if entry.file_type().is_dir() {
                dirs.push(entry.file_name());
            }
            names.push(entry.file_name().into_string().unwrap());
        }
        std::io::Result::Ok((names, dirs))
    })
    .unwrap();
    names.sort();
    let mut expected: Vec<String> = (0..files).map(|i| format!("f{i:04}")).collect();
    expected.push("sub".into());
    assert_eq!(names, expected);
    assert_eq!(dirs, ["sub"]);
}

#[test]
fn file_writes_reads_appends_and_seeks() {
    let _serial = serial();
    let dir = Scratch::new("file");
    let p = dir.path("f");
    goro::run(move || {
        let mut f = File::create(&p)?;
        for i in 0..10_000 {
            writeln!(f, "line {i:05}")?; // 11 bytes each: buffered
        }
        // metadata sees the buffered bytes.
        assert_eq!(f.metadata()?.len(), 110_000);
        f.sync_all()?;
        drop(f);

        let mut f = File::open(&p)?;
        let mut line = [0u8; 11];
        f.read_exact(&mut line)?;
        assert_eq!(&line, b"line 00000\n");
        // The kernel's offset is 64 KiB ahead; the logical one is 11.
        assert_eq!(f.stream_position()?, 11);
        assert_eq!(f.seek(SeekFrom::Current(11))?, 22);
        f.read_exact(&mut line)?;
        assert_eq!(&line, b"line 00002\n");
        assert_eq!(f.seek(SeekFrom::End(-11))?, 109_989);
        f.read_exact(&mut line)?;
        assert_eq!(&line, b"line 09999\n");
        assert_eq!(f.read(&mut line)?, 0);
        f.seek(SeekFrom::Start(110_000 - 22))?;
        let mut rest = String::new();
        assert_eq!(f.read_to_string(&mut rest)?, 22);
        assert_eq!(rest, "line 09998\nline 09999\n");

        let mut f = OpenOptions::new().append(true).open(&p)?;
        f.write_all(b"appended\n")?;
        f.flush()?;
        let all = goro::fs::read_to_string(&p)?;
        assert!(
            all.ends_with("line 09999\nappended\n"),
            "{}",
            &all[all.len() - 30..]
        );
        std::io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn a_write_after_buffered_reads_lands_at_the_logical_offset() {
    let _serial = serial();
    let dir = Scratch::new("rw");
    let p = dir.path("f");
    std::fs::write(&p, vec![b'.'; 200_000]).unwrap();
    let q = p.clone();
    goro::run(move || {
        let mut f = OpenOptions::new().read(true).write(true).open(&q)?;
        let mut head = [0u8; 10];
        f.read_exact(&mut head)?; // reads ahead a whole buffer
        f.write_all(b"XY")?;
        f.read_exact(&mut head[..3])?; // flushes "XY" first
        assert_eq!(&head[..3], b"...");
        f.set_len(100)?;
        assert_eq!(f.stream_position()?, 15);
        f.write_all(b"Z")?;
        std::io::Result::Ok(())
    })
    .unwrap();
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(bytes.len(), 100);
    assert_eq!(&bytes[8..17], b"..XY...Z.");
}

#[test]
fn large_reads_and_writes_bypass_the_buffer() {
    let _serial = serial();
    let dir = Scratch::new("large");
    let p = dir.path("big");
    let data: Vec<u8> = (0..3 * goro::fs::BUFFER_SIZE + 123)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let expected = data.clone();
    goro::run(move || {
        let mut f = File::create(&p)?;
        f.write_all(&data[..5])?; // buffered
        f.write_all(&data[5..])?; // flushes the 5, then writes directly
        drop(f);
        let mut f = File::open(&p)?;
        let mut first = vec![0u8; goro::fs::BUFFER_SIZE + 1];
        f.read_exact(&mut first)?;
        let mut rest = Vec::new();
        f.read_to_end(&mut rest)?;
        first.extend_from_slice(&rest);
        std::io::Result::Ok(first)
    })
    .map(|read| assert!(read == expected, "contents differ"))
    .unwrap();
}

#[test]
fn try_clone_and_into_std_continue_at_the_logical_offset() {
    let _serial = serial();
    let dir = Scratch::new("clone");
    let p = dir.path("f");
    std::fs::write(&p, b"0123456789").unwrap();
    goro::run(move || {
        let mut f = File::open(&p)?;
        let mut two = [0u8; 2];
        f.read_exact(&mut two)?;
        let mut clone = f.try_clone()?;
        clone.read_exact(&mut two)?;
        assert_eq!(&two, b"23");
        let mut f = File::open(&p)?;
        f.read_exact(&mut two)?;
        let mut std_file = f.into_std()?;
        let mut rest = String::new();
        std_file.read_to_string(&mut rest)?;
        assert_eq!(rest, "23456789");
        // And from std: the std offset is where goro starts.
        let mut std_file = std::fs::File::open(&p)?;
        std_file.seek(SeekFrom::Start(7))?;
        let mut f = File::from_std(std_file);
        let mut rest = String::new();
        f.read_to_string(&mut rest)?;
        assert_eq!(rest, "789");
        std::io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn goroutines_sharing_a_file_write_whole_lines() {
    let _serial = serial();
    let dir = Scratch::new("shared");
    let p = dir.path("log");
    let q = p.clone();
    goro::run(move || {
        let f = Arc::new(OpenOptions::new().write(true).create(true).open(&q)?);
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let f = f.clone();
                goro::go!(move || {
                    for i in 0..2_000 {
                        (&*f).write_all(format!("writer {w} line {i}\n").as_bytes())?;
                    }
                    std::io::Result::Ok(())
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap()?;
        }
        (&*f).flush()
    })
    .unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    let mut per_writer = [0usize; 8];
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        assert_eq!(words.len(), 4, "torn line {line:?}");
        per_writer[words[1].parse::<usize>().unwrap()] += 1;
    }
    assert_eq!(per_writer, [2_000; 8]);
}

// ---- buffering -------------------------------------------------------------

#[test]
fn byte_sized_reads_and_writes_cost_one_syscall_per_buffer() {
    let _serial = serial();
    let dir = Scratch::new("batch");
    let p = dir.path("f");
    const BYTES: usize = 1 << 20;
    let (reads, writes) = goro::run(move || {
        let writes_before = io_counter("syscw");
        let mut f = File::create(&p)?;
        for i in 0..BYTES {
            f.write_all(&[i as u8])?;
        }
        f.flush()?;
        let writes = io_counter("syscw") - writes_before;
        drop(f);
        let reads_before = io_counter("syscr");
        let mut f = File::open(&p)?;
        let mut byte = [0u8; 1];
        for i in 0..BYTES {
            f.read_exact(&mut byte)?;
            assert_eq!(byte[0], i as u8);
        }
        std::io::Result::Ok((io_counter("syscr") - reads_before, writes))
    })
    .unwrap();
    // 16 buffers of 64 KiB each way; per-call jobs would make a million.
    assert!(
        reads < 1_000,
        "{reads} read syscalls for {BYTES} 1-byte reads"
    );
    assert!(
        writes < 1_000,
        "{writes} write syscalls for {BYTES} 1-byte writes"
    );
}

// ---- errors ----------------------------------------------------------------

#[test]
fn missing_paths_are_not_found() {
    let _serial = serial();
    let dir = Scratch::new("missing");
    let p = dir.path("nope");
    goro::run(move || {
        assert_eq!(goro::fs::read(&p).unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(File::open(&p).unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(
            goro::fs::metadata(&p).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            goro::fs::remove_file(&p).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            goro::fs::read_dir(&p).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            goro::fs::rename(&p, p.with_extension("x"))
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            goro::fs::copy(&p, p.with_extension("x"))
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert!(!goro::fs::exists(&p).unwrap());
    });
}

/// goro's error and std's for the same call: the same OS error.
fn same_error<T: std::fmt::Debug, U: std::fmt::Debug>(
    goro: std::io::Result<T>,
    std: std::io::Result<U>,
) -> std::io::Error {
    let (goro, std) = (goro.unwrap_err(), std.unwrap_err());
    assert_eq!(goro.kind(), std.kind());
    assert_eq!(goro.raw_os_error(), std.raw_os_error());
    goro
}

#[test]
fn a_directory_used_as_a_file_gives_std_errors() {
    let _serial = serial();
    let dir = Scratch::new("dirfile");
    let d = dir.0.clone();
    goro::run(move || {
        let e = same_error(goro::fs::read(&d), std::fs::read(&d));
        assert_eq!(e.kind(), ErrorKind::IsADirectory);
        same_error(goro::fs::read_to_string(&d), std::fs::read_to_string(&d));
        same_error(File::create(&d), std::fs::File::create(&d));
        same_error(goro::fs::write(&d, "x"), std::fs::write(&d, "x"));
        // Opening a directory read-only succeeds (as with std); reading fails.
        let mut f = File::open(&d).unwrap();
        let mut std_f = std::fs::File::open(&d).unwrap();
        let mut buf = [0u8; 8];
        same_error(f.read(&mut buf), std_f.read(&mut buf));
        same_error(goro::fs::remove_file(&d), std::fs::remove_file(&d));
        // And a file used as a directory.
        let file = d.join("file");
        std::fs::write(&file, "x").unwrap();
        let e = same_error(goro::fs::read_dir(&file), std::fs::read_dir(&file));
        assert_eq!(e.kind(), ErrorKind::NotADirectory);
    });
}

#[test]
fn create_new_on_an_existing_file_is_already_exists() {
    let _serial = serial();
    let dir = Scratch::new("exists");
    let p = dir.path("f");
    std::fs::write(&p, "x").unwrap();
    goro::run(move || {
        assert_eq!(
            File::create_new(&p).unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        let e = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        assert_eq!(
            goro::fs::create_dir(&p).unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        // No read or write: std's InvalidInput.
        assert_eq!(
            OpenOptions::new().open(&p).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    });
}

#[test]
fn invalid_utf8_is_invalid_data_and_leaves_the_string_alone() {
    let _serial = serial();
    let dir = Scratch::new("utf8");
    let p = dir.path("f");
    let mut bytes = b"valid start ".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    std::fs::write(&p, &bytes).unwrap();
    goro::run(move || {
        let e = goro::fs::read_to_string(&p).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData);
        // Whole file in one job.
        let mut text = String::from("kept");
        let e = File::open(&p)?.read_to_string(&mut text).unwrap_err();
        assert_eq!((e.kind(), text.as_str()), (ErrorKind::InvalidData, "kept"));
        // After a small read: read-ahead joined with the rest, checked whole.
        let mut f = File::open(&p)?;
        f.read_exact(&mut [0u8; 6])?;
        let e = f.read_to_string(&mut text).unwrap_err();
        assert_eq!((e.kind(), text.as_str()), (ErrorKind::InvalidData, "kept"));
        std::io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn a_utf8_character_split_by_the_buffer_still_reads() {
    let _serial = serial();
    let dir = Scratch::new("utf8split");
    let p = dir.path("f");
    // "é" is two bytes; put one across the end of the first buffer.
    let mut text = "a".repeat(goro::fs::BUFFER_SIZE - 1);
    text.push_str("é and more");
    std::fs::write(&p, &text).unwrap();
    let got = goro::run(move || {
        let mut f = File::open(&p)?;
        let mut first = [0u8; 1];
        f.read_exact(&mut first)?;
        let mut rest = String::new();
        f.read_to_string(&mut rest)?;
        std::io::Result::Ok(rest)
    })
    .unwrap();
    assert_eq!(got, text[1..]);
}

#[test]
fn write_errors_are_reported_not_lost() {
    let _serial = serial();
    goro::run(|| {
        let mut full = OpenOptions::new().write(true).open("/dev/full").unwrap();
        // Buffered: accepted, then refused when written out.
        full.write_all(b"x").unwrap();
        let e = full.flush().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::StorageFull);
        // Reported once: the buffer that failed is gone.
        full.flush().unwrap();
        // The next call that writes the buffer out reports it too.
        full.write_all(b"y").unwrap();
        assert_eq!(full.sync_all().unwrap_err().kind(), ErrorKind::StorageFull);
        full.write_all(b"z").unwrap();
        let e = full.seek(SeekFrom::Start(0)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::StorageFull);
        full.write_all(b"w").unwrap();
        assert_eq!(full.metadata().unwrap_err().kind(), ErrorKind::StorageFull);
        // A large write goes straight through and fails at once.
        let big = vec![0u8; 4 * goro::fs::BUFFER_SIZE];
        assert_eq!(
            full.write_all(&big).unwrap_err().kind(),
            ErrorKind::StorageFull
        );
        // As do the whole-file function and into_std with pending bytes.
        assert_eq!(
            goro::fs::write("/dev/full", b"x").unwrap_err().kind(),
            ErrorKind::StorageFull
        );
        full.write_all(b"v").unwrap();
        assert_eq!(full.into_std().unwrap_err().kind(), ErrorKind::StorageFull);
    });
}

#[test]
fn nothing_leaks_fds() {
    let _serial = serial();
    let dir = Scratch::new("fds");
    let root = dir.0.clone();
    for i in 0..50 {
        std::fs::write(dir.path(&format!("f{i}")), "x").unwrap();
    }
    // Warm up: the runtime's own fds (the poller, its waker) exist before
    // the count.
    goro::run(|| goro::fs::read("Cargo.toml").unwrap());
    let before = open_fds();
    goro::run(move || {
        for round in 0..20 {
            let entries: Vec<_> = goro::fs::read_dir(&root).unwrap().collect();
            assert_eq!(entries.len(), 50 + round.min(1));
            // An iterator dropped half way.
            let mut half = goro::fs::read_dir(&root).unwrap();
            half.next();
            drop(half);
            let mut f = File::create(root.join("new")).unwrap();
            f.write_all(b"pending").unwrap();
            let clone = f.try_clone().unwrap();
            drop((f, clone));
            let _ = std::io::read_to_string(File::open(root.join("f1")).unwrap());
            assert!(File::open(root.join("missing")).is_err());
            assert!(File::create_new(root.join("f2")).is_err());
            assert!(goro::fs::read(&root).is_err());
            let std_file = File::open(root.join("f3")).unwrap().into_std().unwrap();
            drop(std_file);
            let mut full = OpenOptions::new().write(true).open("/dev/full").unwrap();
            full.write_all(b"x").unwrap();
            drop(full); // the error is dropped with it
        }
    });
    assert_eq!(open_fds(), before);
}

/// A FIFO has no offset to give read-ahead back to: reading two bytes must
/// not swallow the rest, and a write after it must not fail on `lseek`.
#[test]
fn a_fifo_is_read_without_read_ahead() {
    let _serial = serial();
    let dir = Scratch::new("fiforw");
    let fifo = dir.path("fifo");
    make_fifo(&fifo);
    goro::run(move || {
        // Read-write: the open does not wait for a peer (Linux).
        let mut f = OpenOptions::new().read(true).write(true).open(&fifo)?;
        f.write_all(b"ping")?;
        f.flush()?;
        let mut two = [0u8; 2];
        f.read_exact(&mut two)?;
        assert_eq!(&two, b"pi");
        f.write_all(b"pong")?;
        let other = f.try_clone()?;
        f.flush()?;
        let mut rest = [0u8; 6];
        f.read_exact(&mut rest)?;
        assert_eq!(&rest, b"ngpong");
        drop(other);
        std::io::Result::Ok(())
    })
    .unwrap();
}

fn make_fifo(path: &std::path::Path) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c_path` is a valid NUL-terminated path for the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}

// ---- not stalling the worker -------------------------------------------------

/// Opening a FIFO for reading blocks in the kernel until a writer opens it.
/// On one worker, the opening goroutine must park (the dump says it waits
/// in a blocking call) while a ticker goroutine keeps ticking on that same
/// worker, and no worker is handed off (which sysmon does when a worker
/// blocks in the kernel).
#[test]
fn opening_a_fifo_parks_the_goroutine_not_the_worker() {
    let _serial = serial();
    let dir = Scratch::new("fifo");
    let fifo = dir.path("fifo");
    make_fifo(&fifo);
    let previous = goro::gomaxprocs(1);
    let (ticks_while_open, threads_before, threads_after, state, text) = goro::run(move || {
        let stop = Arc::new(AtomicBool::new(false));
        let ticks = Arc::new(AtomicU64::new(0));
        let ticker = {
            let (stop, ticks) = (stop.clone(), ticks.clone());
            goro::go!(move || {
                while !stop.load(Ordering::Relaxed) {
                    goro::time::sleep(Duration::from_millis(1));
                    ticks.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        goro::time::sleep(Duration::from_millis(20));
        let threads_before = worker_threads();
        let reader_path = fifo.clone();
        let reader = goro::Builder::new()
            .name("fifo-reader".into())
            .spawn(move || {
                let mut f = File::open(&reader_path)?;
                let mut text = String::new();
                f.read_to_string(&mut text)?;
                std::io::Result::Ok(text)
            })
            .unwrap();
        let ticks_before = ticks.load(Ordering::Relaxed);
        goro::time::sleep(Duration::from_millis(300));
        let ticks_while_open = ticks.load(Ordering::Relaxed) - ticks_before;
        let state = goro::dump()
            .to_string()
            .lines()
            .find(|l| l.contains("fifo-reader"))
            .unwrap_or("fifo-reader not in the dump")
            .to_string();
        let threads_after = worker_threads();
        let writer = std::thread::spawn(move || {
            let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            w.write_all(b"through the fifo").unwrap();
        });
        let text = reader.join().unwrap().unwrap();
        writer.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        ticker.join().unwrap();
        (ticks_while_open, threads_before, threads_after, state, text)
    });
    goro::gomaxprocs(previous);
    assert_eq!(text, "through the fifo");
    assert!(
        state.contains("[blocking call, "),
        "the opener is not parked on the pool: {state}"
    );
    // About 300 at 1 ms; a stalled worker gives 0 until the hand-off.
    assert!(ticks_while_open >= 30, "{ticks_while_open} ticks in 300 ms");
    assert_eq!(threads_before, threads_after, "a worker was handed off");
}

// ---- plain threads -----------------------------------------------------------

#[test]
fn works_on_plain_threads() {
    let _serial = serial();
    let dir = Scratch::new("threads");
    let root = dir.0.clone();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let root = root.clone();
            std::thread::spawn(move || {
                let p = root.join(format!("t{t}"));
                let mut f = File::create(&p).unwrap();
                for i in 0..1000 {
                    writeln!(f, "{t} {i}").unwrap();
                }
                f.flush().unwrap();
                let text = goro::fs::read_to_string(&p).unwrap();
                assert_eq!(text.lines().count(), 1000);
                let mut f = File::open(&p).unwrap();
                let mut first = String::new();
                std::io::BufRead::read_line(&mut std::io::BufReader::new(&mut f), &mut first)
                    .unwrap();
                assert_eq!(first, format!("{t} 0\n"));
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(goro::fs::read_dir(&root).unwrap().count(), 4);
}
