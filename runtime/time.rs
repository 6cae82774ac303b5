//! Time for goroutines: [`sleep`], and channels that deliver the time
//! later ([`after`], [`tick`], [`Timer`], [`Ticker`]), for `select!`.
//!
//! `sleep` parks the goroutine on a runtime timer (a plain thread sleeps
//! the thread). The channel-based timers are runtime timers whose action is
//! a callback: at the deadline a worker does a *non-blocking* send of
//! `Instant::now()` on a channel of capacity 1, as Go's runtime does. A
//! receiver that is slow therefore misses ticks instead of piling them up
//! (Go's `time.Tick` drops ticks the same way), and no timer can ever block
//! a worker.
//!
//! No thread is started for timers and nothing here polls: timers fire in
//! the workers' find-work loop, and an idle runtime sleeps until the next
//! deadline (`scheduler/timer.rs`).
//!
//! ```
//! use std::time::Duration;
//! let (_tx, rx) = goro::chan::<u32>(0); // nothing will arrive
//! let got = goro::select! {
//!     recv(rx) -> v => v.ok(),
//!     recv(goro::time::after(Duration::from_millis(5))) -> _ => None, // timed out
//! };
//! assert_eq!(got, None);
//! ```
//!
//! Stopping or resetting a [`Timer`] or [`Ticker`] also drops a value that
//! fired but was not received yet (Go 1.23's rule): after `stop` returns,
//! no stale time arrives. This module never blocks a worker thread.

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::chan::{chan, Receiver, Sender, TrySendError};
use crate::coroutine::{WaitReason, NO_OBJECT};
use crate::scheduler::timer::{self, TimerKey};
use crate::scheduler::{park_until, park_until_future};

/// Pauses the caller for at least `d`: parks a goroutine (its worker runs
/// others meanwhile); sleeps a plain thread. A zero `d` returns at once.
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// let h = goro::go!(|| goro::time::sleep(Duration::from_millis(10)));
/// h.join().unwrap();
/// assert!(start.elapsed() >= Duration::from_millis(10));
/// goro::time::sleep(Duration::ZERO); // no wait
/// ```
#[track_caller]
pub fn sleep(d: Duration) {
    if d.is_zero() {
        return;
    }
    let deadline = deadline_after(d);
    if park_until_future(WaitReason::Sleep, NO_OBJECT, deadline) {
        return;
    }
    while !park_until(WaitReason::Sleep, NO_OBJECT, deadline) {}
}

/// Returns a channel that receives the time once, `d` from now (Go's
/// `time.After`). The channel closes after that value. Dropping the
/// receiver before then cancels the timer (so a `select!` loop with an
/// `after` arm does not pile up pending timers).
///
/// ```
/// use std::time::Duration;
/// let (_tx, rx) = goro::chan::<u32>(0);
/// let timed_out = goro::select! {
///     recv(rx) -> _ => false,
///     recv(goro::time::after(Duration::from_millis(5))) -> _ => true,
/// };
/// assert!(timed_out);
/// ```
pub fn after(d: Duration) -> Receiver<Instant> {
    let (tx, rx) = chan(1);
    let key = timer::add_callback(deadline_after(d), move || {
        let _ = tx.try_send(Instant::now());
    });
    // If the timer fired already, cancelling it later is a no-op.
    rx.chan.lock().on_abandon = Some(Box::new(move || {
        timer::cancel(key);
    }));
    rx
}

/// Returns a channel that receives the time every `d` (Go's `time.Tick`).
/// Ticks a slow receiver could not take are dropped. The ticks stop when
/// every receiver is dropped.
///
/// ```
/// use std::time::Duration;
/// let ticks = goro::time::tick(Duration::from_millis(5));
/// let first = ticks.recv().unwrap();
/// let second = ticks.recv().unwrap();
/// assert!(second > first);
/// drop(ticks); // the last receiver: the ticks stop
/// ```
///
/// # Panics
///
/// If `d` is zero.
///
/// ```should_panic
/// goro::time::tick(std::time::Duration::ZERO); // panics
/// ```
pub fn tick(d: Duration) -> Receiver<Instant> {
    let (shared, rx) = Shared::new(Some(d));
    let mut st = shared.state.lock();
    arm(&shared, &mut st, deadline_after(d));
    drop(st);
    // Dropping the last receiver stops the ticks at once. The hook holds
    // the shared state, which holds the channel's sender: a cycle that the
    // hook breaks when it runs (and while a receiver lives, all is in use).
    rx.chan.lock().on_abandon = Some(Box::new(move || {
        let mut st = shared.state.lock();
        st.gen += 1;
        if let Some(key) = st.key.take() {
            timer::cancel(key);
        }
    }));
    rx
}

/// A single event at a time of your choosing (Go's `time.Timer`): the time
/// arrives on [`Timer::c`] once the timer expires. Dropping the timer
/// stops it.
///
/// ```
/// use std::time::Duration;
/// let t = goro::time::Timer::new(Duration::from_millis(5));
/// assert!(t.c.recv().is_ok());
/// ```
pub struct Timer {
    /// Receives the time when the timer fires.
    pub c: Receiver<Instant>,
    shared: Arc<Shared>,
}

/// Delivers the time every period (Go's `time.Ticker`) on [`Ticker::c`],
/// dropping ticks a slow receiver missed. Dropping the ticker stops it.
///
/// ```
/// use std::time::Duration;
/// let ticker = goro::time::Ticker::new(Duration::from_millis(5));
/// let mut n = 0;
/// while n < 3 {
///     goro::select! {
///         recv(ticker.c) -> t => { t.unwrap(); n += 1; }
///         recv(goro::time::after(Duration::from_secs(10))) -> _ => panic!("no tick"),
///     }
/// }
/// ticker.stop();
/// ```
pub struct Ticker {
    /// Receives the time at every tick.
    pub c: Receiver<Instant>,
    shared: Arc<Shared>,
}

/// What the armed callback and the handle share.
struct Shared {
    tx: Sender<Instant>,
    state: Mutex<State>,
}

struct State {
    /// The armed timer, if any.
    key: Option<TimerKey>,
    /// Bumped by every stop and reset: a callback armed under an older
    /// generation does nothing when it runs.
    gen: u64,
    /// `Some`: a ticker with this period.
    period: Option<Duration>,
}

impl Shared {
    fn new(period: Option<Duration>) -> (Arc<Shared>, Receiver<Instant>) {
        if let Some(p) = period {
            assert!(
                !p.is_zero(),
                "goro::time: non-positive interval for a ticker"
            );
        }
        let (tx, rx) = chan(1);
        let shared = Arc::new(Shared {
            tx,
            state: Mutex::new(State {
                key: None,
                gen: 0,
                period,
            }),
        });
        (shared, rx)
    }

    /// Disarms; returns whether it was armed. Also drops a fired value not
    /// yet received.
    fn stop(&self, st: &mut State, c: &Receiver<Instant>) -> bool {
        st.gen += 1;
        let active = match st.key.take() {
            // Even if the entry already left the timer set, its callback
            // has not run (it clears `key` under this lock), and the new
            // generation makes it do nothing: the timer is stopped.
            Some(key) => {
                timer::cancel(key);
                true
            }
            None => false,
        };
        // Without yielding: this holds the state lock that the timer's
        // callback takes on a worker, and a yield here (a preemption
        // request) could leave that worker blocked on it.
        while c.try_recv_now().is_ok() {}
        active
    }
}

/// Arms `shared` to fire at `at` under the current generation.
fn arm(shared: &Arc<Shared>, st: &mut State, at: Instant) {
    let gen = st.gen;
    let s = Arc::clone(shared);
    st.key = Some(timer::add_callback(at, move || fire(s, gen, at)));
}

/// The timer callback: a non-blocking send, then re-arm if a ticker.
fn fire(shared: Arc<Shared>, gen: u64, at: Instant) {
    let mut st = shared.state.lock();
    if st.gen != gen {
        return;
    }
    st.key = None;
    let now = Instant::now();
    if let Err(TrySendError::Disconnected(_)) = shared.tx.try_send(now) {
        return; // Nobody can receive: stop for good.
    }
    if let Some(p) = st.period {
        // The next tick after `now` on the grid at + k*p: missed ticks are
        // skipped, not delivered late in a burst.
        let step = p.as_nanos();
        let k = now.saturating_duration_since(at).as_nanos() / step + 1;
        let ahead = Duration::from_nanos(u64::try_from(k * step).unwrap_or(u64::MAX));
        let next = at
            .checked_add(ahead)
            .unwrap_or_else(|| deadline_after(ahead));
        arm(&shared, &mut st, next);
    }
}

impl Timer {
    /// A timer that fires once, `d` from now. The channel [`Timer::c`]
    /// then holds the time of firing until it is received.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let start = Instant::now();
    /// let t = goro::time::Timer::new(Duration::from_millis(5));
    /// let fired = t.c.recv().unwrap();
    /// assert!(fired >= start + Duration::from_millis(5));
    /// assert!(t.c.try_recv().is_err()); // fires once
    /// ```
    pub fn new(d: Duration) -> Timer {
        let (shared, c) = Shared::new(None);
        let mut st = shared.state.lock();
        arm(&shared, &mut st, deadline_after(d));
        drop(st);
        Timer { c, shared }
    }

    /// Stops the timer. Returns true if it was still pending (it will not
    /// fire now), false if it had fired or was stopped already. A value
    /// that fired but was not received is dropped.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = goro::time::Timer::new(Duration::from_secs(60));
    /// assert!(t.stop()); // it was pending: it will not fire
    /// assert!(!t.stop()); // stopped already
    /// assert!(t.c.recv_timeout(Duration::from_millis(10)).unwrap_err().is_timeout());
    /// ```
    pub fn stop(&self) -> bool {
        let mut st = self.shared.state.lock();
        self.shared.stop(&mut st, &self.c)
    }

    /// Makes the timer fire `d` from now (again). Returns whether it was
    /// pending before (as [`Timer::stop`] would).
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = goro::time::Timer::new(Duration::from_secs(60));
    /// assert!(t.reset(Duration::from_millis(5))); // was pending
    /// t.c.recv().unwrap(); // fires 5 ms from the reset
    /// assert!(!t.reset(Duration::from_millis(5))); // had fired: not pending
    /// t.c.recv().unwrap(); // and fires again
    /// ```
    pub fn reset(&self, d: Duration) -> bool {
        let mut st = self.shared.state.lock();
        let active = self.shared.stop(&mut st, &self.c);
        arm(&self.shared, &mut st, deadline_after(d));
        active
    }
}

impl Ticker {
    /// A ticker with period `d`; the first tick comes `d` from now.
    ///
    /// ```
    /// use std::time::Duration;
    /// let ticker = goro::time::Ticker::new(Duration::from_millis(5));
    /// let a = ticker.c.recv().unwrap();
    /// let b = ticker.c.recv().unwrap();
    /// assert!(b > a);
    /// ```
    ///
    /// # Panics
    ///
    /// If `d` is zero.
    ///
    /// ```should_panic
    /// goro::time::Ticker::new(std::time::Duration::ZERO); // panics
    /// ```
    pub fn new(d: Duration) -> Ticker {
        let (shared, c) = Shared::new(Some(d));
        let mut st = shared.state.lock();
        arm(&shared, &mut st, deadline_after(d));
        drop(st);
        Ticker { c, shared }
    }

    /// Stops the ticks. A tick that was not received yet is dropped.
    ///
    /// ```
    /// use std::time::Duration;
    /// let ticker = goro::time::Ticker::new(Duration::from_millis(1));
    /// ticker.c.recv().unwrap();
    /// ticker.stop();
    /// // No tick, not even one that fired before the stop.
    /// assert!(ticker.c.recv_timeout(Duration::from_millis(10)).unwrap_err().is_timeout());
    /// ```
    pub fn stop(&self) {
        let mut st = self.shared.state.lock();
        self.shared.stop(&mut st, &self.c);
    }

    /// Restarts with period `d`; the next tick comes `d` from now. It also
    /// restarts a stopped ticker.
    ///
    /// ```
    /// use std::time::Duration;
    /// let ticker = goro::time::Ticker::new(Duration::from_secs(60));
    /// ticker.reset(Duration::from_millis(5)); // much sooner
    /// assert!(ticker.c.recv_timeout(Duration::from_secs(10)).is_ok());
    /// ticker.stop();
    /// ticker.reset(Duration::from_millis(5)); // ticking again
    /// assert!(ticker.c.recv_timeout(Duration::from_secs(10)).is_ok());
    /// ```
    ///
    /// # Panics
    ///
    /// If `d` is zero.
    ///
    /// ```should_panic
    /// use std::time::Duration;
    /// let ticker = goro::time::Ticker::new(Duration::from_secs(1));
    /// ticker.reset(Duration::ZERO); // panics
    /// ```
    pub fn reset(&self, d: Duration) {
        assert!(
            !d.is_zero(),
            "goro::time: non-positive interval for a ticker"
        );
        let mut st = self.shared.state.lock();
        self.shared.stop(&mut st, &self.c);
        st.period = Some(d);
        arm(&self.shared, &mut st, deadline_after(d));
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Ticker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticker").finish_non_exhaustive()
    }
}

/// `now + d`, saturating at a deadline decades away.
fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(60 * 60 * 24 * 365 * 30))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test, so the two checks do not arm timers under each other;
    /// other unit tests may still arm a few: compare with a wide margin.
    #[test]
    fn dropping_the_receivers_cancels_after_and_tick() {
        let _counting = timer::counting_timers();
        const N: usize = 1000;
        let before = timer::armed();
        let rxs: Vec<_> = (0..N).map(|_| after(Duration::from_secs(3600))).collect();
        assert!(timer::armed() >= before + N);
        drop(rxs);
        assert!(
            timer::armed() < before + N / 2,
            "timers outlived their receivers"
        );

        let before = timer::armed();
        let rxs: Vec<_> = (0..N).map(|_| tick(Duration::from_secs(3600))).collect();
        let clones: Vec<_> = rxs.iter().map(Receiver::clone).collect();
        assert!(timer::armed() >= before + N);
        drop(rxs);
        assert!(timer::armed() >= before + N, "stopped with receivers left");
        drop(clones);
        assert!(
            timer::armed() < before + N / 2,
            "tickers outlived their receivers"
        );
    }
}
