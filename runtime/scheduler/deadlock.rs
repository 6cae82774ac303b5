//! Who hears of a deadlock. sysmon finds one (`sysmon.rs`, Go's
//! checkdead); with nobody listening here the process ends with Go's
//! report, as before. While `#[goro::test]` tests wait for their
//! goroutines (`entry.rs`), every waiting test fails with the report
//! instead, and the test harness goes on with the next test.
//!
//! Failing every waiting test is right: a deadlock means no goroutine can
//! ever run again, so no waiting test can finish. A test thread counts as a
//! plain thread parked in goro while it waits (even with a timeout: its own
//! deadline wakes no goroutine), and libtest's main thread, which only
//! waits for test results, counts as accounted for while a test runs on
//! another thread. Any other plain thread (a plain `#[test]` running
//! beside, a thread the test started) still rules the report out, as it
//! does outside tests. What the deadlocked goroutines hold stays where it
//! is: they cannot be ended, only reported.
//!
//! The report itself ([`report`]) is the goroutine profile: goroutines
//! grouped by state and place, so ten thousand stuck on one line print one
//! line; when few goroutines are stuck, each one's line (id, name, wait)
//! follows, as Go's full traceback would name them.

use parking_lot::Mutex;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::rt;
use crate::coroutine::dump;

/// Up to this many goroutines, the report lists each one below the groups.
const LIST_EACH_UP_TO: usize = 32;

/// The text of a deadlock report: `headline`, the grouped dump and, for
/// at most [`LIST_EACH_UP_TO`] goroutines, the dump itself.
pub(super) fn report(headline: &str) -> String {
    let all = dump();
    let mut text = format!("{headline}\n\n{}", all.grouped());
    if all.len() <= LIST_EACH_UP_TO {
        text.push_str(&format!("\n{all}"));
    }
    text
}

/// One waiting test: its thread and the report, once there is one.
struct Listener {
    thread: std::thread::Thread,
    /// Whether the test runs on the process's main thread (no harness
    /// thread waits for it then).
    on_main_thread: bool,
    report: Mutex<Option<Arc<str>>>,
}

/// Every test waiting now.
static LISTENERS: Mutex<Vec<Arc<Listener>>> = Mutex::new(Vec::new());

/// A test thread's registration as a listener, until dropped.
pub(crate) struct TestWait {
    me: Arc<Listener>,
}

impl TestWait {
    /// Registers the calling thread, which will wait for a test's
    /// goroutine with [`TestWait::park`].
    pub(crate) fn register() -> TestWait {
        // SAFETY: gettid(2) has no preconditions and cannot fail.
        let tid = unsafe { libc::gettid() };
        let me = Arc::new(Listener {
            thread: std::thread::current(),
            on_main_thread: u32::try_from(tid).ok() == Some(std::process::id()),
            report: Mutex::new(None),
        });
        LISTENERS.lock().push(me.clone());
        TestWait { me }
    }

    /// Parks the test thread until it is unparked (its goroutine ended, or
    /// spuriously) or `deadline` passes; counted as a plain thread blocked
    /// in goro meanwhile. Returns the deadlock report if one came.
    pub(crate) fn park(&self, deadline: Option<Instant>) -> Option<Arc<str>> {
        if let Some(report) = self.report() {
            return Some(report);
        }
        let rt = rt();
        rt.external_blocked.fetch_add(1, Ordering::SeqCst);
        match deadline {
            Some(d) => std::thread::park_timeout(d.saturating_duration_since(Instant::now())),
            None => std::thread::park(),
        }
        rt.external_blocked.fetch_sub(1, Ordering::SeqCst);
        rt.external_wakes.fetch_add(1, Ordering::Relaxed);
        self.report()
    }

    fn report(&self) -> Option<Arc<str>> {
        self.me.report.lock().clone()
    }
}

impl Drop for TestWait {
    fn drop(&mut self) {
        LISTENERS.lock().retain(|l| !Arc::ptr_eq(l, &self.me));
    }
}

/// Threads to count as accounted for beside goro's own and those parked in
/// goro: libtest's main thread, while a test waits on another thread.
pub(super) fn harness_threads() -> usize {
    usize::from(LISTENERS.lock().iter().any(|l| !l.on_main_thread))
}

/// Hands a deadlock report (made by `report`) to every waiting test and
/// wakes them. Returns false, making nothing, when no test waits.
pub(super) fn report_to_tests(report: impl FnOnce() -> String) -> bool {
    let listeners = LISTENERS.lock();
    if listeners.is_empty() {
        return false;
    }
    let report: Arc<str> = report().into();
    for l in listeners.iter() {
        *l.report.lock() = Some(report.clone());
        l.thread.unpark();
    }
    true
}
