//! `goro::ipc::Fifo`: named pipes between goroutines, threads and
//! processes, with a blocking open's semantics on a parked goroutine: a
//! writer waits for a reader (leaving its worker free), a reader waits for
//! its first writer and sees end of file only after the last one, EPIPE,
//! timeouts, bad input, a peer killed with SIGKILL mid-exchange, and
//! nothing left behind (fds, FIFO nodes).

#[path = "support/ipc.rs"]
mod ipc;

use goro::ipc::{Fifo, FifoReader, FifoWriter};
use ipc::{open_fds, open_fds_when_warm, peer_role, serial, spawn_peer, wait_parked};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A FIFO node in the temp dir, named for this process and `what`,
/// removed when dropped (so a failing test leaves none).
struct TempFifo(PathBuf);

impl TempFifo {
    fn new(what: &str) -> TempFifo {
        let path =
            std::env::temp_dir().join(format!("goro-test-{}-{what}.fifo", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Fifo::create(&path, 0o600).unwrap();
        TempFifo(path)
    }
}

impl Drop for TempFifo {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Removes the node and checks it is gone.
fn remove(fifo: TempFifo) {
    std::fs::remove_file(&fifo.0).unwrap();
    assert!(!fifo.0.exists());
}

#[test]
fn create_makes_a_fifo_node_with_the_mode_asked() {
    let _serial = serial();
    let fifo = TempFifo::new("mode");
    let meta = std::fs::metadata(&fifo.0).unwrap();
    assert!(meta.file_type().is_fifo());
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
    let err = Fifo::create(&fifo.0, 0o600).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert!(
        err.to_string().contains(&*fifo.0.to_string_lossy()),
        "{err}"
    );
    remove(fifo);
}

#[test]
fn bytes_flow_between_goroutines_past_the_pipe_buffer() {
    let _serial = serial();
    let fifo = TempFifo::new("flow");
    let mut r = Fifo::open_read(&fifo.0).unwrap();
    let path = fifo.0.clone();
    let writer = goro::go!(move || {
        let mut w = Fifo::open_write(&path).unwrap();
        // 1 MiB, 16 pipe buffers: the writer parks when it is full.
        for i in 0..256u32 {
            w.write_all(&[i as u8; 4096]).unwrap();
        }
    });
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    writer.join().unwrap();
    assert_eq!(got.len(), 256 * 4096);
    assert!(got
        .chunks(4096)
        .enumerate()
        .all(|(i, c)| c.iter().all(|&b| b == i as u8)));
    remove(fifo);
}

/// On one worker, `open_write` with no reader parks (the dump shows it
/// waiting for its blocking-pool open, not running in a syscall), and
/// the goroutine that opens the reader runs meanwhile.
#[test]
fn open_write_parks_until_a_reader_comes_and_leaves_the_worker_free() {
    let _serial = serial();
    let fifo = TempFifo::new("open-write");
    let previous = goro::gomaxprocs(1);
    let path = fifo.0.clone();
    let got = goro::run(move || {
        let opened = Arc::new(AtomicBool::new(false));
        let (p, o) = (path.clone(), opened.clone());
        let writer = goro::Builder::new()
            .name("fifo-writer".to_owned())
            .spawn(move || {
                let mut w = Fifo::open_write(&p).unwrap();
                o.store(true, Ordering::SeqCst);
                w.write_all(b"after the reader came").unwrap();
            })
            .unwrap();
        wait_parked("fifo-writer", "blocking call");
        goro::time::sleep(Duration::from_millis(30));
        assert!(
            !opened.load(Ordering::SeqCst),
            "opened for writing with no reader"
        );
        let start = Instant::now();
        let mut r = Fifo::open_read(&path).unwrap();
        let mut got = String::new();
        r.read_to_string(&mut got).unwrap();
        // The kernel wakes the waiting open at once; generous.
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        writer.join().unwrap();
        got
    });
    goro::gomaxprocs(previous);
    assert_eq!(got, "after the reader came");
    remove(fifo);
}

/// A reader of another kind, inside a blocking open(2) (as `cat fifo`
/// opens), meets `open_write` in either order.
#[test]
fn open_write_meets_a_reader_inside_a_blocking_open() {
    let _serial = serial();
    let fifo = TempFifo::new("blocking-reader");
    for reader_first in [true, false] {
        let path = fifo.0.clone();
        let spawn_reader = move || {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut got = String::new();
                // A plain blocking open: returns once a writer has come.
                std::fs::File::open(&path)
                    .unwrap()
                    .read_to_string(&mut got)
                    .unwrap();
                got
            })
        };
        let reader = reader_first.then(&spawn_reader);
        let path = fifo.0.clone();
        let writer = goro::go!(move || Fifo::open_write(&path).unwrap().write_all(b"to cat"));
        goro::time::sleep(Duration::from_millis(20));
        let reader = reader.unwrap_or_else(spawn_reader);
        writer.join().unwrap().unwrap();
        assert_eq!(
            reader.join().unwrap(),
            "to cat",
            "reader first: {reader_first}"
        );
    }
    remove(fifo);
}

/// A reader opened before any writer does not see end of file: its read
/// parks until a writer comes and writes, and the end of file comes
/// when that writer closes.
#[test]
fn a_reader_waits_for_its_first_writer_instead_of_seeing_eof() {
    let _serial = serial();
    let fifo = TempFifo::new("first-writer");
    let r = Arc::new(Fifo::open_read(&fifo.0).unwrap());
    let reader = {
        let r = r.clone();
        goro::Builder::new()
            .name("fifo-reader".to_owned())
            .spawn(move || {
                let mut got = Vec::new();
                (&*r).read_to_end(&mut got).unwrap();
                got
            })
            .unwrap()
    };
    wait_parked("fifo-reader", "IO read");
    goro::time::sleep(Duration::from_millis(20));
    assert!(
        !reader.is_finished(),
        "the reader saw EOF before any writer"
    );
    let mut w = Fifo::open_write(&fifo.0).unwrap();
    w.write_all(b"first").unwrap();
    goro::time::sleep(Duration::from_millis(20));
    assert!(!reader.is_finished(), "EOF while the writer is still open");
    drop(w);
    assert_eq!(reader.join().unwrap(), b"first");
    remove(fifo);
}

/// A writer that comes and goes without writing is an end of file, as
/// for a blocking reader.
#[test]
fn a_writer_that_closes_without_writing_is_end_of_file() {
    let _serial = serial();
    let fifo = TempFifo::new("silent-writer");
    let mut r = Fifo::open_read(&fifo.0).unwrap();
    r.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
    let err = r.read(&mut [0u8; 8]).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::WouldBlock,
        "no writer yet must not read as EOF"
    );
    drop(Fifo::open_write(&fifo.0).unwrap());
    r.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(r.read(&mut [0u8; 8]).unwrap(), 0);
    // Another writer may come later, as with blocking opens.
    let mut w = Fifo::open_write(&fifo.0).unwrap();
    w.write_all(b"again").unwrap();
    drop(w);
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"again");
    remove(fifo);
}

#[test]
fn end_of_file_only_once_the_last_writer_has_closed() {
    let _serial = serial();
    let fifo = TempFifo::new("last-writer");
    let mut r = Fifo::open_read(&fifo.0).unwrap();
    let mut a = Fifo::open_write(&fifo.0).unwrap();
    let b = Fifo::open_write(&fifo.0).unwrap();
    a.write_all(b"a").unwrap();
    drop(a);
    let mut buf = [0u8; 8];
    assert_eq!(r.read(&mut buf).unwrap(), 1);
    r.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
    let err = r.read(&mut buf).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::WouldBlock,
        "EOF with a writer still open"
    );
    r.set_read_timeout(None).unwrap();
    let writer = goro::go!(move || {
        goro::time::sleep(Duration::from_millis(20));
        (&b).write_all(b"b").unwrap();
        drop(b);
    });
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    writer.join().unwrap();
    assert_eq!(rest, b"b");
    remove(fifo);
}

#[test]
fn writes_after_the_last_reader_left_are_broken_pipe() {
    let _serial = serial();
    let fifo = TempFifo::new("epipe");
    let r = Fifo::open_read(&fifo.0).unwrap();
    let w = Arc::new(Fifo::open_write(&fifo.0).unwrap());
    // A writer parked on a full pipe wakes with EPIPE when the reader goes.
    let w2 = w.clone();
    let writer = goro::Builder::new()
        .name("fifo-filler".to_owned())
        .spawn(move || loop {
            if let Err(e) = (&*w2).write(&[1u8; 4096]) {
                return e;
            }
        })
        .unwrap();
    wait_parked("fifo-filler", "IO write");
    drop(r);
    assert_eq!(writer.join().unwrap().kind(), ErrorKind::BrokenPipe);
    assert_eq!((&*w).write(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
    remove(fifo);
}

#[test]
fn a_plain_thread_blocks_on_a_read_until_a_goroutine_writes() {
    let _serial = serial();
    let fifo = TempFifo::new("thread");
    let mut r = Fifo::open_read(&fifo.0).unwrap();
    let thread = std::thread::spawn(move || {
        let mut got = String::new();
        r.read_to_string(&mut got).unwrap();
        got
    });
    let path = fifo.0.clone();
    goro::go!(move || {
        goro::time::sleep(Duration::from_millis(20));
        Fifo::open_write(&path)
            .unwrap()
            .write_all(b"to a thread")
            .unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(thread.join().unwrap(), "to a thread");
    // And a plain thread's open_write waits (sleeping) for a reader too.
    let path = fifo.0.clone();
    let thread = std::thread::spawn(move || Fifo::open_write(&path).map(drop));
    std::thread::sleep(Duration::from_millis(20));
    assert!(!thread.is_finished());
    let r = Fifo::open_read(&fifo.0).unwrap();
    thread.join().unwrap().unwrap();
    drop(r);
    remove(fifo);
}

#[test]
fn deadlines_and_timeouts_end_waits() {
    let _serial = serial();
    let fifo = TempFifo::new("deadlines");
    let mut r = Fifo::open_read(&fifo.0).unwrap();
    r.set_read_deadline(Some(Instant::now() + Duration::from_millis(20)))
        .unwrap();
    let start = Instant::now();
    assert_eq!(
        r.read(&mut [0u8; 8]).unwrap_err().kind(),
        ErrorKind::TimedOut
    );
    assert!(start.elapsed() >= Duration::from_millis(20));
    r.set_read_deadline(None).unwrap();
    let mut w = Fifo::open_write(&fifo.0).unwrap();
    w.set_write_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let err = loop {
        if let Err(e) = w.write(&[0u8; 4096]) {
            break e;
        }
    };
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    w.set_write_deadline(Some(Instant::now())).unwrap();
    assert_eq!(w.write(b"x").unwrap_err().kind(), ErrorKind::TimedOut);
    // The reader still gets what fit.
    assert_eq!(r.read(&mut [0u8; 4096]).unwrap(), 4096);
    remove(fifo);
}

#[test]
fn what_is_not_a_fifo_is_refused_with_its_path() {
    let _serial = serial();
    let before = open_fds();
    let dir = std::env::temp_dir();
    let file = dir.join(format!("goro-test-{}-plain-file", std::process::id()));
    std::fs::write(&file, b"not a pipe").unwrap();
    for path in [file.as_path(), Path::new("/dev/null"), dir.as_path()] {
        for err in [
            Fifo::open_read(path).unwrap_err(),
            Fifo::open_write(path).unwrap_err(),
        ] {
            assert_eq!(
                err.kind(),
                ErrorKind::InvalidInput,
                "{}: {err}",
                path.display()
            );
            assert!(err.to_string().contains("not a named pipe"), "{err}");
            assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
        }
    }
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"not a pipe",
        "the refused open touched the file"
    );
    std::fs::remove_file(&file).unwrap();
    let missing = dir.join(format!("goro-test-{}-missing.fifo", std::process::id()));
    assert_eq!(
        Fifo::open_read(&missing).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        Fifo::open_write(&missing).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let in_missing_dir = missing.join("x.fifo");
    assert_eq!(
        Fifo::create(&in_missing_dir, 0o600).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        Fifo::create("/tmp/nul\0byte", 0o600).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(open_fds(), before, "a refused open left an fd");
}

#[test]
fn drop_closes_both_ends() {
    let _serial = serial();
    let fifo = TempFifo::new("fds");
    let before = open_fds();
    let readers: Vec<FifoReader> = (0..5).map(|_| Fifo::open_read(&fifo.0).unwrap()).collect();
    let writers: Vec<FifoWriter> = (0..5).map(|_| Fifo::open_write(&fifo.0).unwrap()).collect();
    assert_eq!(open_fds(), before + 10);
    drop((readers, writers));
    assert_eq!(open_fds(), before, "a FIFO end outlived its value");
    remove(fifo);
}

/// The child opens the FIFO for writing by path (parking until this
/// process reads), sends 1 MiB and exits; then the roles turn: the child
/// reads what this process writes and answers with its length in its
/// exit code... through a second FIFO.
#[test]
fn a_child_process_writes_then_reads_by_path() {
    if let Some(args) = peer_role() {
        goro::go!(move || {
            let mut w = Fifo::open_write(&args[0]).unwrap();
            for i in 0..256u32 {
                w.write_all(&[i as u8; 4096]).unwrap();
            }
            drop(w);
            let mut r = Fifo::open_read(&args[1]).unwrap();
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert_eq!(got, b"and back");
        })
        .join()
        .unwrap();
        return;
    }
    let _serial = serial();
    let before = open_fds_when_warm();
    let (there, back) = (TempFifo::new("to-parent"), TempFifo::new("to-child"));
    let args = [there.0.display().to_string(), back.0.display().to_string()];
    let mut child = spawn_peer("a_child_process_writes_then_reads_by_path", &args);
    let path = back.0.clone();
    let mut r = Fifo::open_read(&there.0).unwrap();
    goro::go!(move || {
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), 256 * 4096);
        assert!(got
            .chunks(4096)
            .enumerate()
            .all(|(i, c)| c.iter().all(|&b| b == i as u8)));
        // Parks until the child has opened its reader.
        Fifo::open_write(&path)
            .unwrap()
            .write_all(b"and back")
            .unwrap();
    })
    .join()
    .unwrap();
    assert!(child.wait().unwrap().success());
    drop(child);
    remove(there);
    remove(back);
    assert_eq!(open_fds(), before);
}

/// A child killed with SIGKILL mid-exchange: as its writer, this
/// process's reader gets what it sent and then end of file; as its
/// reader, this process's parked writer gets EPIPE. Neither hangs.
#[test]
fn a_peer_killed_mid_exchange_gives_eof_or_broken_pipe() {
    if let Some(args) = peer_role() {
        let mut w = Fifo::open_write(&args[0]).unwrap();
        w.write_all(b"partial").unwrap();
        let _r = Fifo::open_read(&args[1]).unwrap(); // never reads
        ipc::wait_to_be_killed();
    }
    let _serial = serial();
    let before = open_fds_when_warm();
    let (from_child, to_child) = (
        TempFifo::new("killed-writer"),
        TempFifo::new("killed-reader"),
    );
    let args = [
        from_child.0.display().to_string(),
        to_child.0.display().to_string(),
    ];
    let mut child = spawn_peer("a_peer_killed_mid_exchange_gives_eof_or_broken_pipe", &args);
    let mut r = Fifo::open_read(&from_child.0).unwrap();
    let mut buf = [0u8; 7];
    r.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"partial");
    let w = Fifo::open_write(&to_child.0).unwrap();
    let filler = goro::Builder::new()
        .name("fill-the-dying".to_owned())
        .spawn(move || loop {
            if let Err(e) = (&w).write(&[0u8; 4096]) {
                return e;
            }
        })
        .unwrap();
    wait_parked("fill-the-dying", "IO write");
    let reader = goro::go!(move || {
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).map(|_| rest)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    drop(child);
    let start = Instant::now();
    assert_eq!(filler.join().unwrap().kind(), ErrorKind::BrokenPipe);
    assert_eq!(
        reader.join().unwrap().unwrap(),
        b"",
        "EOF after the dead writer"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    remove(from_child);
    remove(to_child);
    assert_eq!(open_fds(), before);
}
