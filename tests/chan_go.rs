//! Go's channel test programs (`test/chan/*.go` in the Go tree), ported one
//! by one under their Go names so a reader can hold each port against the
//! original. Go's `nil` channel (never ready) is a channel nobody ever
//! sends to or receives from; Go's panics on a send to a closed channel
//! are `Err(SendError(v))` here.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use goro::{chan, gosched, select, Receiver, Sender};

/// A channel that is never ready (Go's nil channel): both ends kept alive,
/// nobody uses them.
fn nil_chan<T>() -> (Sender<T>, Receiver<T>) {
    chan(0)
}

// ---- sieve.go (sieve1): the concurrent prime sieve ----

fn generate(ch: Sender<u32>) {
    for i in 2.. {
        if ch.send(i).is_err() {
            return; // the consumer is gone
        }
    }
}

fn filter(input: Receiver<u32>, out: Sender<u32>, prime: u32) {
    for i in &input {
        if i % prime != 0 && out.send(i).is_err() {
            return;
        }
    }
}

fn sieve_primes(n: usize) -> Vec<u32> {
    let (tx, mut rx) = chan::<u32>(0);
    goro::go!(generate(tx));
    let mut primes = Vec::new();
    for _ in 0..n {
        let prime = rx.recv().unwrap();
        primes.push(prime);
        let (tx1, rx1) = chan::<u32>(0);
        goro::go!(filter(rx, tx1, prime));
        rx = rx1;
    }
    primes
    // Dropping `rx` closes the chain: each filter's send fails and it exits.
}

#[test]
fn sieve() {
    let primes = goro::run(|| sieve_primes(100));
    let expected: Vec<u32> = (2..)
        .filter(|n| (2..*n).take_while(|d| d * d <= *n).all(|d| n % d != 0))
        .take(100)
        .collect();
    assert_eq!(primes, expected);
    assert_eq!(primes[99], 541);
}

// ---- powser1.go, reduced: power series as channels of rationals ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rat {
    num: i64,
    den: i64,
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs()
    } else {
        gcd(b, a % b)
    }
}

fn rat(num: i64, den: i64) -> Rat {
    let g = gcd(num, den).max(1) * den.signum();
    Rat {
        num: num / g,
        den: den / g,
    }
}

impl std::ops::Add for Rat {
    type Output = Rat;
    fn add(self, o: Rat) -> Rat {
        rat(self.num * o.den + o.num * self.den, self.den * o.den)
    }
}

impl std::ops::Mul for Rat {
    type Output = Rat;
    fn mul(self, o: Rat) -> Rat {
        rat(self.num * o.num, self.den * o.den)
    }
}

type Ps = Receiver<Rat>;

/// 1 + x + x^2 + ...
fn ones() -> Ps {
    let (tx, rx) = chan(0);
    goro::go!(move || while tx.send(rat(1, 1)).is_ok() {});
    rx
}

/// Copies `u` to two outputs, serving whichever is ready first (Go's
/// `split`, which is what makes recursive definitions work).
fn split(u: Ps) -> (Ps, Ps) {
    let (tx_a, rx_a) = chan(0);
    let (tx_b, rx_b) = chan(0);
    goro::go!(move || {
        for v in &u {
            select! {
                send(tx_a, v) -> r => { if r.is_err() || tx_b.send(v).is_err() { return } }
                send(tx_b, v) -> r => { if r.is_err() || tx_a.send(v).is_err() { return } }
            }
        }
    });
    (rx_a, rx_b)
}

/// U + V.
fn add(u: Ps, v: Ps) -> Ps {
    let (tx, rx) = chan(0);
    goro::go!(move || loop {
        let (Ok(a), Ok(b)) = (u.recv(), v.recv()) else {
            return;
        };
        if tx.send(a + b).is_err() {
            return;
        }
    });
    rx
}

/// U * V, by the Cauchy product (Go's recursive `Mul`, flattened).
fn mul(u: Ps, v: Ps) -> Ps {
    let (tx, rx) = chan(0);
    goro::go!(move || {
        let (mut us, mut vs) = (Vec::new(), Vec::new());
        loop {
            let (Ok(a), Ok(b)) = (u.recv(), v.recv()) else {
                return;
            };
            us.push(a);
            vs.push(b);
            let n = us.len();
            let c = (0..n).fold(rat(0, 1), |acc, i| acc + us[i] * vs[n - 1 - i]);
            if tx.send(c).is_err() {
                return;
            }
        }
    });
    rx
}

/// c + integral of U.
fn integ(c: Rat, u: Ps) -> Ps {
    let (tx, rx) = chan(0);
    goro::go!(move || {
        if tx.send(c).is_err() {
            return;
        }
        for (i, a) in (1..).zip(&u) {
            if tx.send(a * rat(1, i)).is_err() {
                return;
            }
        }
    });
    rx
}

/// exp(x), as Go defines it: the solution of y = 1 + integral(y), a
/// series fed back into itself through `split`.
fn exp_series() -> Ps {
    let (tx, rx) = chan::<Rat>(0);
    let y = integ(rat(1, 1), rx);
    let (out, back) = split(y);
    goro::go!(move || {
        for v in &back {
            if tx.send(v).is_err() {
                return;
            }
        }
    });
    out
}

#[test]
fn powser() {
    goro::run(|| {
        // (1/(1-x))^2 = 1 + 2x + 3x^2 + ...
        let sq = mul(ones(), ones());
        for n in 1..=10 {
            assert_eq!(sq.recv().unwrap(), rat(n, 1));
        }
        // 1/(1-x) + 1/(1-x) = 2 + 2x + ...
        let twice = add(ones(), ones());
        for _ in 0..10 {
            assert_eq!(twice.recv().unwrap(), rat(2, 1));
        }
        // exp(x) = sum x^n / n!
        let e = exp_series();
        let mut fact = 1;
        for n in 0..15 {
            if n > 0 {
                fact *= n;
            }
            assert_eq!(e.recv().unwrap(), rat(1, fact), "coefficient {n}");
        }
        // exp(x) * exp(x) = exp(2x): coefficients 2^n / n!
        let (e1, e2) = split(exp_series());
        let e2x = mul(e1, e2);
        let mut fact = 1;
        for n in 0..10 {
            if n > 0 {
                fact *= n;
            }
            assert_eq!(e2x.recv().unwrap(), rat(1 << n, fact), "coefficient {n}");
        }
    });
}

// ---- select.go: send arms, values evaluated for every arm ----

#[test]
fn select() {
    let counter = AtomicUsize::new(0);
    let mut shift = 0;
    let get_value = |shift: u32| {
        counter.fetch_add(1, Ordering::SeqCst);
        1u32 << shift
    };
    // Go's Send(a, b): send on each channel until neither is ready; a
    // channel that took a value becomes nil.
    let mut send = |a: Option<&Sender<u32>>, b: Option<&Sender<u32>>| {
        let (nil_tx, _nil_rx) = nil_chan::<u32>();
        let (mut a, mut b) = (a, b);
        let mut i = 0;
        loop {
            let ta = a.unwrap_or(&nil_tx);
            let tb = b.unwrap_or(&nil_tx);
            let sent = select! {
                send(ta, get_value(shift)) -> r => { r.unwrap(); a = None; true }
                send(tb, get_value(shift)) -> r => { r.unwrap(); b = None; true }
                default => false,
            };
            if !sent {
                break;
            }
            i += 1;
            shift += 1;
        }
        i
    };
    let (a_tx, a_rx) = chan::<u32>(1);
    let (b_tx, b_rx) = chan::<u32>(1);
    assert_eq!(send(Some(&a_tx), Some(&b_tx)), 2);
    assert_eq!(a_rx.recv().unwrap() | b_rx.recv().unwrap(), 3);
    assert_eq!(send(Some(&a_tx), None), 1);
    assert_eq!(a_rx.recv().unwrap(), 4);
    assert_eq!(send(None, Some(&b_tx)), 1);
    assert_eq!(b_rx.recv().unwrap(), 8);
    assert_eq!(send(None, None), 0);
    // Every arm's value is evaluated on every select, chosen or not: two
    // per select, and 3 + 2 + 2 + 1 selects ran (Go checks 10 after the
    // first two calls).
    assert_eq!(counter.load(Ordering::SeqCst), 16);
}

// ---- doubleselect.go: senders and multiplexers both selecting ----

#[test]
fn doubleselect() {
    const ITERATIONS: u32 = 10_000;
    goro::run(|| {
        let chans: Vec<_> = (0..4).map(|_| chan::<u32>(0)).collect();
        let (c1, c2, c3, c4) = (
            chans[0].0.clone(),
            chans[1].0.clone(),
            chans[2].0.clone(),
            chans[3].0.clone(),
        );
        // sender: each value to whichever of the four is ready.
        goro::go!(move || {
            for i in 0..ITERATIONS {
                select! {
                    send(c1, i) -> r => r.unwrap(),
                    send(c2, i) -> r => r.unwrap(),
                    send(c3, i) -> r => r.unwrap(),
                    send(c4, i) -> r => r.unwrap(),
                }
            }
        });
        // mux: each input forwarded to one output, and done when closed.
        let (out_tx, out_rx) = chan::<u32>(0);
        for (_, rx) in &chans {
            let (rx, out) = (rx.clone(), out_tx.clone());
            goro::go!(move || {
                for v in &rx {
                    out.send(v).unwrap();
                }
            });
        }
        drop(out_tx);
        drop(chans);
        // recver: every value exactly once.
        let mut seen = HashSet::new();
        for v in &out_rx {
            assert!(seen.insert(v), "got {v} twice");
        }
        assert_eq!(seen.len(), ITERATIONS as usize);
    });
}

// ---- nonblock.go: select with default against slow peers ----

fn nonblock_one<T>(buffer: usize, value: T)
where
    T: Clone + PartialEq + std::fmt::Debug + Send + 'static,
{
    const MAX_TRIES: u32 = 10_000;
    let sleep = || {
        gosched();
        goro::time::sleep(Duration::from_micros(100));
    };
    let (tx, rx) = chan::<T>(buffer);
    let (sync_tx, sync_rx) = chan::<()>(0);

    // Nothing to receive yet: the select takes default.
    select! {
        recv(rx) -> _ => panic!("blocked receive succeeded"),
        default => {}
    }

    // A receiver appears; a non-blocking send eventually succeeds.
    let (rx2, sync) = (rx.clone(), sync_tx.clone());
    let expected = value.clone();
    goro::go!(move || {
        assert_eq!(rx2.recv().unwrap(), expected);
        sync.send(()).unwrap();
    });
    let mut tries = 0;
    loop {
        let sent = select! {
            send(tx, value.clone()) -> r => { r.unwrap(); true }
            default => false,
        };
        if sent {
            break;
        }
        tries += 1;
        assert!(tries < MAX_TRIES, "send never succeeded (buffer {buffer})");
        sleep();
    }
    sync_rx.recv().unwrap();

    // A sender appears; a non-blocking receive eventually succeeds.
    let (tx2, sync) = (tx.clone(), sync_tx.clone());
    let sent = value.clone();
    goro::go!(move || {
        tx2.send(sent).unwrap();
        sync.send(()).unwrap();
    });
    if buffer > 0 {
        sync_rx.recv().unwrap();
    }
    let mut tries = 0;
    loop {
        let got = select! {
            recv(rx) -> v => { assert_eq!(v.unwrap(), value); true }
            default => false,
        };
        if got {
            break;
        }
        tries += 1;
        assert!(
            tries < MAX_TRIES,
            "receive never succeeded (buffer {buffer})"
        );
        sleep();
    }
    if buffer == 0 {
        sync_rx.recv().unwrap();
    }
}

#[test]
fn nonblock() {
    goro::run(|| {
        for buffer in [0, 1] {
            nonblock_one(buffer, 123i32);
            nonblock_one(buffer, 123_456_789_012i64);
            nonblock_one(buffer, true);
            nonblock_one(buffer, "hello".to_string());
        }
    });
}

// ---- fifo.go: order is preserved, buffered and through a chain ----

const FIFO_N: usize = 10;

#[test]
fn fifo() {
    // AsynchFifo
    let (tx, rx) = chan::<usize>(FIFO_N);
    for i in 0..FIFO_N {
        tx.send(i).unwrap();
    }
    for i in 0..FIFO_N {
        assert_eq!(rx.recv().unwrap(), i);
    }

    // SynchFifo: each link waits its turn, then receives; values must come
    // out in the order the links were started.
    goro::run(|| {
        let (ch_tx, ch_rx) = chan::<usize>(0);
        let (start_tx, mut input) = chan::<u32>(0);
        for i in 0..FIFO_N {
            let (out_tx, out_rx) = chan::<u32>(0);
            let ch = ch_rx.clone();
            goro::go!(move || {
                input.recv().unwrap();
                assert_eq!(ch.recv().unwrap(), i);
                out_tx.send(1).unwrap();
            });
            input = out_rx;
        }
        start_tx.send(0).unwrap();
        for i in 0..FIFO_N {
            ch_tx.send(i).unwrap();
        }
        input.recv().unwrap();
    });
}

// ---- zerosize.go: channels of zero-sized values ----

#[test]
fn zerosize() {
    let (tx, rx) = chan::<()>(0);
    let (tx2, rx2) = chan::<[u64; 0]>(4);
    let h = goro::go!(move || {
        tx.send(()).unwrap();
        for _ in 0..4 {
            tx2.send([]).unwrap();
        }
    });
    assert_eq!(rx.recv(), Ok(()));
    assert_eq!(rx2.iter().count(), 4);
    h.join().unwrap();
    assert!(rx.recv().is_err());
}

// ---- goroutines.go: a long chain of goroutines passing a value on ----

#[test]
fn goroutines() {
    const N: u32 = 10_000;
    goro::run(|| {
        // Go: `go f(left, right)` for N links, `f` does `left <- 1 + <-right`;
        // then `right <- 0` at the right end and `<-leftmost` at the left.
        let (leftmost_tx, leftmost_rx) = chan::<u32>(0);
        let mut left = leftmost_tx;
        for _ in 0..N {
            let (right_tx, right) = chan::<u32>(0);
            goro::go!(move || {
                let v = right.recv().unwrap();
                left.send(v + 1).unwrap();
            });
            left = right_tx;
        }
        left.send(0).unwrap();
        assert_eq!(leftmost_rx.recv().unwrap(), N);
    });
}

// ---- sendstmt.go: operands of a send are evaluated once, in order ----

#[test]
fn sendstmt() {
    // `c <- <-d`: the value comes from another channel.
    let (c_tx, c_rx) = chan::<u32>(1);
    let (d_tx, d_rx) = chan::<u32>(1);
    d_tx.send(7).unwrap();
    c_tx.send(d_rx.recv().unwrap()).unwrap();
    assert_eq!(c_rx.recv().unwrap(), 7);

    // In a select, the channel expression and then the value expression
    // of each arm are evaluated exactly once, in source order.
    let order = std::cell::RefCell::new(Vec::new());
    let pick = |name: &'static str, tx: &Sender<u32>| {
        order.borrow_mut().push(name);
        tx.clone()
    };
    let value = |name: &'static str, v: u32| {
        order.borrow_mut().push(name);
        v
    };
    let (a_tx, a_rx) = chan::<u32>(1);
    let (b_tx, _b_rx) = nil_chan::<u32>();
    select! {
        send(pick("chan a", &a_tx), value("value a", 1)) -> r => r.unwrap(),
        send(pick("chan b", &b_tx), value("value b", 2)) -> _ => panic!("b is never ready"),
    }
    assert_eq!(*order.borrow(), ["chan a", "value a", "chan b", "value b"]);
    assert_eq!(a_rx.recv().unwrap(), 1);
}

// ---- select2.go: selects in a loop do not use up memory ----

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[test]
fn select2() {
    // Memory is process-wide and other tests run beside this one: measure
    // in a child process that runs only this test.
    if std::env::var_os("GORO_SELECT2_CHILD").is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["select2", "--exact", "--nocapture", "--test-threads=1"])
            .env("GORO_SELECT2_CHILD", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "child failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
        return;
    }
    const N: u32 = 100_000;
    goro::run(|| {
        let (c_tx, c_rx) = chan::<u32>(0);
        let (_dummy_tx, dummy_rx) = nil_chan::<u32>();
        let sender = |n: u32| {
            let c = c_tx.clone();
            goro::go!(move || (0..n).for_each(|i| c.send(i).unwrap()))
        };
        let receiver = |n: u32| {
            let mut sum = 0u64;
            for _ in 0..n {
                select! {
                    recv(c_rx) -> v => sum += u64::from(v.unwrap()),
                    recv(dummy_rx) -> _ => panic!("dummy"),
                }
            }
            sum
        };
        // Warm up, then measure.
        let h = sender(N);
        assert_eq!(receiver(N), u64::from(N) * u64::from(N - 1) / 2);
        h.join().unwrap();
        let before = rss_bytes();
        let h = sender(N);
        assert_eq!(receiver(N), u64::from(N) * u64::from(N - 1) / 2);
        h.join().unwrap();
        if let (Some(b), Some(a)) = (before, rss_bytes()) {
            // Go allows 1e5 bytes; allocator noise aside, a select that
            // leaked per call would cost megabytes here.
            assert!(a.saturating_sub(b) < 8 << 20, "grew {} bytes", a - b);
        }
    });
}

// ---- select3.go: what blocks and what does not ----

/// Runs `f` in a goroutine; `blocks` says whether it must still be blocked
/// after a while (then `unblock` releases it) or must finish.
fn test_block(blocks: bool, f: impl FnOnce() + Send + 'static, unblock: impl FnOnce()) {
    let (done_tx, done_rx) = chan::<()>(1);
    goro::go!(move || {
        f();
        let _ = done_tx.send(());
    });
    if blocks {
        assert!(
            done_rx.recv_timeout(Duration::from_millis(50)).is_err(),
            "an operation that must block did not"
        );
        unblock();
    }
    assert!(
        done_rx.recv_timeout(Duration::from_secs(10)).is_ok(),
        "an operation that must not block did (or was never released)"
    );
}

#[test]
fn select3() {
    // Receive from an empty channel blocks.
    let (tx, rx) = chan::<u32>(0);
    let keep = tx.clone();
    test_block(
        true,
        move || assert_eq!(rx.recv(), Ok(1)),
        move || keep.send(1).unwrap(),
    );
    drop(tx);
    // Send to an unbuffered channel with no receiver blocks.
    let (tx, rx) = chan::<u32>(0);
    test_block(
        true,
        move || tx.send(2).unwrap(),
        move || assert_eq!(rx.recv(), Ok(2)),
    );
    // Receive from a closed channel does not block.
    let (tx, rx) = chan::<u32>(0);
    tx.close();
    test_block(false, move || assert!(rx.recv().is_err()), || {});
    // Send to a closed channel does not block (Go panics; we return it).
    let (tx, _rx) = chan::<u32>(0);
    tx.close();
    test_block(
        false,
        move || assert_eq!(tx.send(3).unwrap_err().0, 3),
        || {},
    );
    // A select with only never-ready arms blocks; with default, it does not.
    let (ntx, nrx) = nil_chan::<u32>();
    let (ntx2, nrx2) = (ntx.clone(), nrx.clone());
    let (wake_tx, wake_rx) = chan::<u32>(0);
    test_block(
        true,
        move || {
            select! {
                recv(nrx) -> _ => panic!("nil recv"),
                send(ntx, 1) -> _ => panic!("nil send"),
                recv(wake_rx) -> v => assert_eq!(v, Ok(9)),
            }
        },
        move || wake_tx.send(9).unwrap(),
    );
    test_block(
        false,
        move || {
            select! {
                recv(nrx2) -> _ => panic!("nil recv"),
                send(ntx2, 1) -> _ => panic!("nil send"),
                default => {}
            }
        },
        || {},
    );
    // A select with a closed channel does not block.
    let (tx, rx) = chan::<u32>(0);
    let (_n, nrx) = nil_chan::<u32>();
    tx.close();
    test_block(
        false,
        move || {
            select! {
                recv(nrx) -> _ => panic!("nil recv"),
                recv(rx) -> v => assert!(v.is_err()),
            }
        },
        || {},
    );
    // A buffered channel with room does not block a send; full, it does.
    let (tx, rx) = chan::<u32>(1);
    let tx2 = tx.clone();
    test_block(false, move || tx.send(1).unwrap(), || {});
    let rx2 = rx.clone();
    test_block(
        true,
        move || tx2.send(2).unwrap(),
        move || assert_eq!(rx2.recv(), Ok(1)),
    );
    assert_eq!(rx.recv(), Ok(2));
}

// ---- select4.go: only the chosen arm's body runs ----

#[test]
fn select4() {
    let called = AtomicUsize::new(0);
    let f = || {
        called.fetch_add(1, Ordering::SeqCst);
        0
    };
    let (c_tx, c_rx) = chan::<i32>(1);
    let (_c1_tx, c1_rx) = nil_chan::<i32>();
    c_tx.send(42).unwrap();
    let x;
    select! {
        recv(c1_rx) -> v => x = v.unwrap() + f(),
        recv(c_rx) -> v => x = v.unwrap(),
    }
    assert_eq!(x, 42);
    assert_eq!(
        called.load(Ordering::SeqCst),
        0,
        "the losing arm's body ran"
    );
}

// ---- select5.go, reduced: evaluation order and results of every arm shape ----

#[test]
fn select5() {
    let log = std::cell::RefCell::new(Vec::<String>::new());
    let note = |s: &str| log.borrow_mut().push(s.to_string());
    for ready in 0..4 {
        log.borrow_mut().clear();
        let (r_tx, r_rx) = chan::<u32>(1);
        let (s_tx, s_rx) = chan::<u32>(if ready == 1 { 1 } else { 0 });
        let (_n, n_rx) = nil_chan::<u32>();
        if ready == 0 {
            r_tx.send(10).unwrap();
        }
        let chosen = select! {
            recv({ note("recv chan"); &r_rx }) -> v => { note("recv body"); assert_eq!(v, Ok(10)); 0 }
            send({ note("send chan"); &s_tx }, { note("send value"); 20 }) -> r => { note("send body"); r.unwrap(); 1 }
            recv({ note("nil chan"); &n_rx }) -> _ => unreachable!(),
            default => { note("default body"); 2 }
        };
        let want_body = ["recv body", "send body", "default body", "default body"][ready];
        assert_eq!(chosen, [0, 1, 2, 2][ready]);
        assert_eq!(
            *log.borrow(),
            [
                "recv chan",
                "send chan",
                "send value",
                "nil chan",
                want_body
            ],
            "ready arm {ready}"
        );
        if ready == 1 {
            assert_eq!(s_rx.recv(), Ok(20));
        }
    }
}

// ---- select6.go: issue 2075, a select must not leave a waiter behind ----

#[test]
fn select6() {
    goro::run(|| {
        let (c1_tx, c1_rx) = chan::<bool>(0);
        let (c2_tx, c2_rx) = chan::<bool>(0);
        let (c3_tx, c3_rx) = chan::<bool>(0);
        let r = c1_rx.clone();
        goro::go!(move || r.recv().unwrap());
        let r = c1_rx.clone();
        goro::go!(move || {
            select! {
                recv(r) -> _ => panic!("dummy"),
                recv(c2_rx) -> _ => c3_tx.send(true).unwrap(),
            }
            r.recv().unwrap();
        });
        goro::go!(move || c2_tx.send(true).unwrap());
        c3_rx.recv().unwrap();
        // Both remaining receivers must get one value each; a waiter left
        // behind by the select would swallow one and hang the other.
        c1_tx.send_timeout(true, Duration::from_secs(10)).unwrap();
        c1_tx.send_timeout(true, Duration::from_secs(10)).unwrap();
    });
}

// ---- select7.go: every receive shape against every send shape ----

type RecvFn = fn(Receiver<i32>);

fn recv1(c: Receiver<i32>) {
    c.recv().unwrap();
}

fn recv2(c: Receiver<i32>) {
    select! { recv(c) -> v => { v.unwrap(); } }
}

fn recv3(c: Receiver<i32>) {
    let (_c2_tx, c2) = chan::<i32>(0);
    let (_n, nilch) = nil_chan::<i32>();
    select! {
        recv(c) -> v => { v.unwrap(); }
        recv(c2) -> _ => panic!("c2"),
        recv(nilch) -> _ => panic!("nil"),
    }
}

fn send1(recv: RecvFn) {
    let (tx, rx) = chan::<i32>(0);
    let h = goro::go!(move || recv(rx));
    gosched();
    tx.send(1).unwrap();
    h.join().unwrap();
}

fn send2(recv: RecvFn) {
    let (tx, rx) = chan::<i32>(0);
    let h = goro::go!(move || recv(rx));
    gosched();
    select! { send(tx, 1) -> r => r.unwrap() }
    h.join().unwrap();
}

fn send3(recv: RecvFn) {
    let (tx, rx) = chan::<i32>(0);
    let h = goro::go!(move || recv(rx));
    gosched();
    let (c2, _c2_rx) = chan::<i32>(0);
    select! {
        send(tx, 1) -> r => r.unwrap(),
        send(c2, 1) -> _ => panic!("c2"),
    }
    h.join().unwrap();
}

#[test]
fn select7() {
    goro::run(|| {
        for send in [send1, send2, send3] {
            for recv in [recv1 as RecvFn, recv2, recv3] {
                send(recv);
            }
        }
    });
    // The same from a plain thread.
    for send in [send1, send2, send3] {
        for recv in [recv1 as RecvFn, recv2, recv3] {
            send(recv);
        }
    }
}
