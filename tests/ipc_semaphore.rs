//! `goro::ipc::Semaphore`: P and V between goroutines, threads and
//! processes (a child that inherits the eventfd), timeouts, `from_fd`'s
//! bad input, a holder killed with SIGKILL (its unit is gone, nobody
//! hangs), and no fd left open.

#[path = "support/ipc.rs"]
mod ipc;

use goro::ipc::Semaphore;
use ipc::{
    adopt, inheritable, open_fds, open_fds_when_warm, peer_role, serial, spawn_peer, wait_parked,
};
use std::io::ErrorKind;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn the_dump_shows_a_waiter_on_the_semaphore_at_its_own_line() {
    let _serial = serial();
    let sem = Arc::new(Semaphore::new(0).unwrap());
    let s = sem.clone();
    let (line_tx, line_rx) = goro::chan(1);
    let waiter = goro::Builder::new()
        .name("ipc-sem-waiter".to_string())
        .spawn(move || {
            line_tx.send(line!() + 1).unwrap();
            s.acquire()
        })
        .unwrap();
    let line = line_rx.recv().unwrap();
    wait_parked("ipc-sem-waiter", "semaphore");
    let place = format!("tests/ipc_semaphore.rs:{line}:");
    let dump = goro::dump().to_string();
    let mine = dump
        .lines()
        .find(|l| l.contains("\"ipc-sem-waiter\""))
        .unwrap_or_else(|| panic!("no waiter in\n{dump}"));
    assert!(mine.contains(&place), "want {place} in {mine}");
    sem.release().unwrap();
    waiter.join().unwrap().unwrap();
}

#[test]
fn acquire_parks_until_another_goroutine_releases() {
    let _serial = serial();
    let sem = Arc::new(Semaphore::new(0).unwrap());
    let taken = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..100)
        .map(|_| {
            let (sem, taken) = (sem.clone(), taken.clone());
            goro::go!(move || {
                sem.acquire().unwrap();
                taken.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    goro::time::sleep(Duration::from_millis(20));
    assert_eq!(taken.load(Ordering::SeqCst), 0, "acquired with no unit");
    for _ in 0..100 {
        sem.release().unwrap();
    }
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(taken.load(Ordering::SeqCst), 100);
    assert!(!sem.try_acquire().unwrap(), "a unit was counted twice");
}

#[test]
fn counts_units_and_try_acquire_never_waits() {
    let _serial = serial();
    let sem = Semaphore::new(3).unwrap();
    for _ in 0..3 {
        assert!(sem.try_acquire().unwrap());
    }
    assert!(!sem.try_acquire().unwrap());
    sem.release().unwrap();
    sem.release().unwrap();
    assert!(sem.try_acquire().unwrap());
    assert!(sem.try_acquire().unwrap());
    assert!(!sem.try_acquire().unwrap());
}

#[test]
fn acquire_timeout_waits_at_least_its_timeout_and_wakes_on_release() {
    let _serial = serial();
    let sem = Arc::new(Semaphore::new(0).unwrap());
    let start = Instant::now();
    assert!(!sem.acquire_timeout(Duration::from_millis(50)).unwrap());
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(50),
        "gave up after {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    assert!(!sem.acquire_timeout(Duration::ZERO).unwrap());

    // A release during the wait ends it long before the timeout.
    let s = sem.clone();
    let waiter = goro::go!(move || {
        let start = Instant::now();
        (
            s.acquire_timeout(Duration::from_secs(30)).unwrap(),
            start.elapsed(),
        )
    });
    goro::time::sleep(Duration::from_millis(20));
    sem.release().unwrap();
    let (got, waited) = waiter.join().unwrap();
    assert!(got);
    assert!(waited < Duration::from_secs(10), "waited {waited:?}");
}

#[test]
fn a_plain_thread_blocks_and_a_goroutine_wakes_it() {
    let _serial = serial();
    let sem = Arc::new(Semaphore::new(0).unwrap());
    let back = Arc::new(Semaphore::new(0).unwrap());
    let (s, b) = (sem.clone(), back.clone());
    let thread = std::thread::spawn(move || {
        for _ in 0..100 {
            s.acquire().unwrap();
            b.release().unwrap();
        }
    });
    let g = goro::go!(move || {
        for _ in 0..100 {
            sem.release().unwrap();
            back.acquire().unwrap();
        }
    });
    g.join().unwrap();
    thread.join().unwrap();
}

#[test]
fn from_fd_refuses_what_is_not_a_semaphore_eventfd() {
    let _serial = serial();
    let before = open_fds();
    let null: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
    let err = Semaphore::from_fd(null).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("not an eventfd"), "{err}");
    assert!(err.to_string().contains("/dev/null"), "{err}");

    // An eventfd whose reads take the whole count is no semaphore.
    // SAFETY: eventfd takes no pointers; the new fd is owned below.
    let counter = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    assert!(counter >= 0);
    // SAFETY: just created, owned by nobody else.
    let counter = unsafe { OwnedFd::from_raw_fd(counter) };
    let err = Semaphore::from_fd(counter).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("EFD_SEMAPHORE"), "{err}");
    assert_eq!(open_fds(), before, "a refused fd was left open");
}

#[test]
fn from_fd_shares_the_counter_and_drop_closes() {
    let _serial = serial();
    let before = open_fds();
    let sem = Semaphore::new(1).unwrap();
    let same = Semaphore::from_fd(sem.as_fd().try_clone_to_owned().unwrap()).unwrap();
    assert!(same.try_acquire().unwrap());
    assert!(!sem.try_acquire().unwrap());
    same.release().unwrap();
    assert!(sem.try_acquire().unwrap());
    // SAFETY: F_GETFD reads the flags of an fd we own.
    let flags = unsafe { libc::fcntl(same.as_raw_fd(), libc::F_GETFD) };
    assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    drop((sem, same));
    assert_eq!(open_fds(), before, "a Semaphore's fd outlived it");
}

/// Parent and child hand one unit back and forth 200 times through two
/// semaphores the child inherited: each side parks in `acquire` until
/// the other process releases.
#[test]
fn ping_pong_with_a_child_process() {
    if let Some(args) = peer_role() {
        let to_child = Semaphore::from_fd(adopt(&args[0])).unwrap();
        let to_parent = Semaphore::from_fd(adopt(&args[1])).unwrap();
        goro::go!(move || {
            for _ in 0..200 {
                to_child.acquire().unwrap();
                to_parent.release().unwrap();
            }
        })
        .join()
        .unwrap();
        return;
    }
    let _serial = serial();
    let before = open_fds_when_warm();
    let to_child = Semaphore::new(0).unwrap();
    let to_parent = Semaphore::new(0).unwrap();
    let (a, b) = (
        inheritable(to_child.as_fd()),
        inheritable(to_parent.as_fd()),
    );
    let mut child = spawn_peer(
        "ping_pong_with_a_child_process",
        &[a.as_raw_fd().to_string(), b.as_raw_fd().to_string()],
    );
    drop((a, b));
    goro::go!(move || {
        for i in 0..200 {
            to_child.release().unwrap();
            assert!(
                to_parent.acquire_timeout(Duration::from_secs(30)).unwrap(),
                "the child never answered round {i}"
            );
        }
    })
    .join()
    .unwrap();
    assert!(child.wait().unwrap().success());
    drop(child); // its pidfd
    assert_eq!(open_fds(), before);
}

/// A child takes the only unit and is killed with SIGKILL while holding
/// it: eventfds have no undo on exit, so the unit is gone, and a waiter
/// with a timeout sees that instead of hanging.
#[test]
fn a_holder_killed_mid_exchange_keeps_its_unit_and_nobody_hangs() {
    if let Some(args) = peer_role() {
        let sem = Semaphore::from_fd(adopt(&args[0])).unwrap();
        let held = Semaphore::from_fd(adopt(&args[1])).unwrap();
        sem.acquire().unwrap();
        held.release().unwrap();
        ipc::wait_to_be_killed();
    }
    let _serial = serial();
    let before = open_fds_when_warm();
    let sem = Semaphore::new(1).unwrap();
    let held = Semaphore::new(0).unwrap();
    let (a, b) = (inheritable(sem.as_fd()), inheritable(held.as_fd()));
    let mut child = spawn_peer(
        "a_holder_killed_mid_exchange_keeps_its_unit_and_nobody_hangs",
        &[a.as_raw_fd().to_string(), b.as_raw_fd().to_string()],
    );
    drop((a, b));
    assert!(held.acquire_timeout(Duration::from_secs(30)).unwrap());
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    let start = Instant::now();
    assert!(!sem.acquire_timeout(Duration::from_millis(100)).unwrap());
    assert!(start.elapsed() < Duration::from_secs(5));
    // The counter itself still works for the living.
    sem.release().unwrap();
    assert!(sem.try_acquire().unwrap());
    drop((sem, held, child));
    assert_eq!(open_fds(), before);
}
