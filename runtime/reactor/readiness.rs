//! One direction's readiness (read or write) of a registration: the
//! `ready` flag, the edge counter, whether the peer closed it, and who
//! waits for it, with every transition a named function.
//!
//! It lives under the registration's lock; the poller calls [`edge`] on
//! every event, a caller [`try_begin`]s a syscall (or, not ready, adds
//! itself with [`wait`] and parks), and a syscall that said `WouldBlock`
//! (or drained the socket, or failed) calls [`finished`] with the tick it
//! began at, which clears `ready` only if no edge arrived while it ran. So an edge
//! between a `WouldBlock` and the park is never lost: the waiter sees the
//! flag under the same lock the poller sets it with.
//! `tests/loom_readiness.rs` model-checks this with loom; the file imports
//! nothing, so the test compiles it as it is. It never performs I/O or
//! parks by itself.
//!
//! [`edge`]: Readiness::edge
//! [`try_begin`]: Readiness::try_begin
//! [`wait`]: Readiness::wait
//! [`finished`]: Readiness::finished

/// One direction of a registration; `W` is who to wake (an `Unparker`).
pub(crate) struct Readiness<W> {
    /// Whether the syscall may succeed: set by every edge, cleared when the
    /// syscall says `WouldBlock` (or drained the socket) with no edge since
    /// it started. Starts set: a new socket may already hold data.
    ready: bool,
    /// Edges seen so far: lets a caller tell whether an edge arrived while
    /// its syscall ran, in which case it must not clear `ready`.
    tick: u64,
    /// The peer closed this direction: the syscall will never block again,
    /// so a short result never clears `ready`. A short read that stops at a
    /// pending FIN must not make the next read wait for an edge that will
    /// not come.
    closed: bool,
    /// An error event arrived that no syscall has reported yet: the next
    /// call returns it instead of blocking, so a short result must not
    /// clear `ready`. Cleared by the first syscall that fails: unlike
    /// `closed`, an error is transient (a datagram socket's ICMP error).
    error: bool,
    waiters: Vec<W>,
}

impl<W> Default for Readiness<W> {
    fn default() -> Self {
        Readiness {
            ready: true,
            tick: 0,
            closed: false,
            error: false,
            waiters: Vec::new(),
        }
    }
}

impl<W> Readiness<W> {
    /// The poller saw an edge (`closed`: the peer closed this direction;
    /// `error`: an error event): ready again, and every waiter goes to
    /// `woken` (to unpark once the lock is released).
    #[inline]
    pub(crate) fn edge(&mut self, closed: bool, error: bool, woken: &mut Vec<W>) {
        self.ready = true;
        self.closed |= closed;
        self.error |= error;
        self.tick += 1;
        woken.append(&mut self.waiters);
    }

    /// Before a syscall: the tick to pass to [`Self::exhausted`] if it may
    /// succeed (ready, or the caller was just woken: it always retries, as
    /// one edge wakes every waiter and another may have cleared `ready`
    /// first); `None` if the caller must [`Self::wait`] and park first.
    #[inline]
    pub(crate) fn try_begin(&self, woken: bool) -> Option<u64> {
        (self.ready || woken).then_some(self.tick)
    }

    /// Lists `who` to be woken by the next edge.
    #[inline]
    pub(crate) fn wait(&mut self, who: W) {
        self.waiters.push(who);
    }

    /// Every waiter goes to `woken` without an edge (`ready` and `tick`
    /// untouched): something other than readiness changed (a deadline
    /// moved), and each re-checks it when it runs.
    #[inline]
    pub(crate) fn wake_waiters(&mut self, woken: &mut Vec<W>) {
        woken.append(&mut self.waiters);
    }

    /// After a park: takes the caller's entry out if it is still listed
    /// (woken by its deadline or spuriously).
    #[inline]
    pub(crate) fn unlist(&mut self, is_me: impl Fn(&W) -> bool) {
        if let Some(pos) = self.waiters.iter().position(is_me) {
            self.waiters.swap_remove(pos);
        }
    }

    /// The syscall begun at `tick` came back `failed` (an error, which
    /// reports any pending one; `would_block` if it was `WouldBlock`) or
    /// `short` (it drained the socket). Unless an edge arrived meanwhile:
    /// a `WouldBlock` clears `ready` (so a retry loop parks instead of
    /// spinning), and so does a short result, unless the direction is
    /// closed or an error waits to be reported.
    #[inline]
    pub(crate) fn finished(&mut self, tick: u64, failed: bool, would_block: bool, short: bool) {
        if self.tick != tick {
            return;
        }
        self.error &= !failed;
        if would_block || (short && !self.closed && !self.error) {
            self.ready = false;
        }
    }
}
