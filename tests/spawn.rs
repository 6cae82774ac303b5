//! Spawning and joining: the go! forms, Builder, JoinHandle from goroutines
//! and plain threads, 100,000 goroutines.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[test]
fn go_accepts_closures_and_calls() {
    let a = goro::go!(move || 1u32);
    let b = goro::go!(add(2, 3));
    let c = goro::go!(move || -> io::Result<u8> { Ok(7) });
    let d = goro::go!(|| ());
    assert_eq!(a.join().unwrap(), 1);
    assert_eq!(b.join().unwrap(), 5);
    assert_eq!(c.join().unwrap().unwrap(), 7);
    d.join().unwrap();
}

struct Server {
    base: u32,
}

impl Server {
    fn serve(self, conn: u32) -> u32 {
        self.base + conn
    }
}

#[test]
fn go_runs_calls_of_every_shape() {
    let server = Server { base: 10 };
    let by_method = goro::go!(server.serve(1));
    let work = move || 2u32;
    let closure_value_called = goro::go!(work());
    let by_path = goro::go!(u32::saturating_add(3, 0));
    let turbofish = goro::go!(std::convert::identity::<u32>(4));
    let chained = goro::go!("5".parse::<u32>().unwrap());
    assert_eq!(by_method.join().unwrap(), 11);
    assert_eq!(closure_value_called.join().unwrap(), 2);
    assert_eq!(by_path.join().unwrap(), 3);
    assert_eq!(turbofish.join().unwrap(), 4);
    assert_eq!(chained.join().unwrap(), 5);
}

#[test]
fn spawn_and_join_100_000_goroutines() {
    let total = goro::run(|| {
        let handles: Vec<_> = (0..100_000u64).map(|i| goro::go!(move || i)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(total, (0..100_000u64).sum::<u64>());
}

#[test]
fn join_from_a_plain_thread_and_from_a_goroutine() {
    let slow = goro::go!(|| {
        goro::time::sleep(std::time::Duration::from_millis(20));
        11
    });
    let from_thread = std::thread::spawn(move || slow.join().unwrap());
    assert_eq!(from_thread.join().unwrap(), 11);

    let inner = goro::go!(|| 21);
    let outer = goro::go!(move || inner.join().unwrap() * 2);
    assert_eq!(outer.join().unwrap(), 42);
}

#[test]
fn join_waits_for_a_goroutine_that_blocks_first() {
    // The joiner parks before the goroutine finishes: the wake must arrive.
    for _ in 0..200 {
        let h = goro::go!(|| {
            for _ in 0..3 {
                goro::gosched();
            }
            5
        });
        assert_eq!(goro::go!(move || h.join().unwrap()).join().unwrap(), 5);
    }
}

#[test]
fn handle_reports_id_and_finish() {
    let h = goro::go!(|| goro::current().unwrap().id());
    let id = h.id();
    assert!(id > 0);
    while !h.is_finished() {
        std::thread::yield_now();
    }
    assert_eq!(h.join().unwrap(), id);
}

#[test]
fn builder_names_goroutines_and_checks_stack_sizes() {
    let h = goro::Builder::new()
        .name("worker-7".to_string())
        .stack_size(256 * 1024)
        .spawn(|| {
            let g = goro::current().unwrap();
            (g.name().map(str::to_string), format!("{g:?}"))
        })
        .unwrap();
    let (name, debug) = h.join().unwrap();
    assert_eq!(name.as_deref(), Some("worker-7"));
    assert!(debug.contains("worker-7"), "{debug}");

    let tiny = goro::Builder::new().stack_size(1024).spawn(|| ());
    assert_eq!(tiny.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    let huge = goro::Builder::new().stack_size(1 << 40).spawn(|| ());
    assert_eq!(huge.unwrap_err().kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn current_is_none_on_a_plain_thread() {
    assert!(goro::current().is_none());
    assert!(goro::num_cpu() >= 1);
}

#[test]
fn dropping_a_handle_detaches_the_goroutine() {
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    drop(goro::go!(move || r.fetch_add(1, Ordering::SeqCst)));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ran.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "detached goroutine never ran"
        );
        std::thread::yield_now();
    }
}

#[test]
fn run_returns_the_main_goroutine_value() {
    let name = goro::run(|| goro::current().unwrap().name().map(str::to_string));
    assert_eq!(name.as_deref(), Some("main"));
}

#[test]
fn dump_lists_blocked_goroutines_and_what_they_wait_on() {
    let sleeper = goro::Builder::new()
        .name("dump-sleeper".to_string())
        .spawn(|| goro::time::sleep(std::time::Duration::from_millis(300)))
        .unwrap();
    let watcher = goro::Builder::new()
        .name("dump-joiner".to_string())
        .spawn(move || sleeper.join().unwrap())
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let text = goro::dump().to_string();
        if text.contains(r#""dump-sleeper" [sleep, "#) && text.contains(r#""dump-joiner" [join, "#)
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "dump never showed both:\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    watcher.join().unwrap();
}

#[test]
fn a_long_timer_does_not_stall_spawns_from_a_thread() {
    // Regression: a timer watcher blocked in epoll with a long timeout held
    // the poller while a second idle worker queued behind it; goroutines
    // spawned from a plain thread then waited for the 30 s timer.
    let _sleeper = goro::go!(|| goro::time::sleep(std::time::Duration::from_secs(30)));
    for i in 0..300 {
        let start = std::time::Instant::now();
        assert_eq!(goro::go!(move || i).join().unwrap(), i);
        let took = start.elapsed();
        assert!(
            took < std::time::Duration::from_secs(5),
            "spawn+join {i} took {took:?}"
        );
        if i % 50 == 0 {
            std::thread::sleep(std::time::Duration::from_millis(20)); // let workers go idle
        }
    }
}
