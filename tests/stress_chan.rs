//! Stress: channels and `select!` under load, between goroutines and plain
//! threads, with every value accounted for.
//!
//! The test runs rounds until its [`stress::budget`] is spent. Each round
//! draws a plan from a seed (printed, and taken from `GORO_STRESS_SEED` to
//! replay one): two channels of capacity 0, 1 or 8, four producers and
//! four consumers, each a goroutine or a plain thread, and `gomaxprocs`
//! 1, 2 or 4. Producers send with `send`, `send_timeout`, `try_send`, a
//! `select!` racing a `time::after` arm and a `select!` offering a value to
//! both channels; consumers receive with `recv`, `recv_timeout`, a
//! `select!` over both channels (with duplicate arms, a `time::after` arm
//! or a `default(timeout)`). Mid-flight, a producer may close a channel and
//! consumers may quit (dropping their receivers, which closes the channels
//! once the last one goes).
//!
//! Every value is a [`Token`] with a slot in the round's [`Ledger`], and
//! every token must end exactly once: received, handed back to its sender
//! (a closed channel), dropped by a channel nobody can receive from any
//! more, or dropped by a select as the value of an arm that did not run.
//! A second ending (a duplicate) fails at once; a token that never ends (a
//! lost value) fails the round's check, and so does a count that does not
//! add up. Every participant ticks a [`stress::Beat`] per operation, so a
//! stuck one fails the test through the watchdog instead of hanging it.
//!
//! This file holds one test because it changes the process-wide
//! `gomaxprocs`; a test added here must not run alongside it.

#[path = "support/stress.rs"]
mod stress;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::{chan, select, Receiver, RecvTimeoutError, SendTimeoutError, Sender, TrySendError};
use stress::{Beat, Participant, Rng, Watchdog};

const PRODUCERS: usize = 4;
const CONSUMERS: usize = 4;
/// How long a timed operation waits: short, so timeouts happen often.
const PATIENCE: Duration = Duration::from_millis(1);

// ---- the ledger: how each value ended ----

/// Not ended yet: in a channel, a select, or a participant's hands.
const IN_FLIGHT: u8 = 0;
/// Taken by a consumer.
const RECEIVED: u8 = 1;
/// Given back to its producer by a send on a closed channel.
const RETURNED: u8 = 2;
/// Dropped without being received: by a channel that lost its last
/// receiver, or by a select whose arm did not run (relabelled [`UNSENT`]).
const DROPPED: u8 = 3;
/// Offered by a select arm that did not run, and dropped by that select.
const UNSENT: u8 = 4;

fn ending_name(state: u8) -> &'static str {
    ["in flight", "received", "returned", "dropped", "unsent"][usize::from(state)]
}

/// One round's record of how every token ended; slot `i` is token `i`.
struct Ledger {
    endings: Vec<AtomicU8>,
}

impl Ledger {
    fn new(slots: usize) -> Ledger {
        Ledger {
            endings: (0..slots).map(|_| AtomicU8::new(IN_FLIGHT)).collect(),
        }
    }

    /// Records that token `index` ended as `ending`; a second ending is a
    /// duplicated value.
    fn end(&self, index: usize, ending: u8) {
        // AcqRel: the one who ends a token sees everything done with it.
        if let Err(before) = self.endings[index].compare_exchange(
            IN_FLIGHT,
            ending,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            panic!(
                "token {index} ended twice: {} then {}",
                ending_name(before),
                ending_name(ending)
            );
        }
    }

    /// Token `index` was the value of a select arm that did not run: the
    /// select must have dropped it, and nothing else may have ended it.
    fn unsent(&self, index: usize) {
        if let Err(now) = self.endings[index].compare_exchange(
            DROPPED,
            UNSENT,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            panic!(
                "token {index}, offered by a select arm that did not run, is {}, not dropped",
                ending_name(now)
            );
        }
    }

    fn ending(&self, index: usize) -> u8 {
        self.endings[index].load(Ordering::Acquire)
    }

    fn count(&self, ending: u8) -> usize {
        self.endings
            .iter()
            .filter(|e| e.load(Ordering::Acquire) == ending)
            .count()
    }
}

/// A value sent through the channels. Dropping it unreceived records
/// [`DROPPED`]; [`Token::end`] records any other ending.
struct Token {
    ledger: Arc<Ledger>,
    index: usize,
    ended: bool,
}

impl Token {
    fn end(mut self, ending: u8) {
        self.ledger.end(self.index, ending);
        self.ended = true;
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        if !self.ended {
            self.ledger.end(self.index, DROPPED);
        }
    }
}

// ---- the plan of a round ----

struct Plan {
    capacities: [usize; 2],
    gomaxprocs: usize,
    /// Tokens each producer may send successfully.
    quota: usize,
    producer_on_thread: [bool; PRODUCERS],
    consumer_on_thread: [bool; CONSUMERS],
    /// Producer 0 closes channel 0 after this many successful sends.
    close_after: Option<usize>,
    /// Consumer `i` quits (drops its receivers) after this many values.
    quit_after: [Option<usize>; CONSUMERS],
}

impl Plan {
    fn draw(rng: &mut Rng) -> Plan {
        let capacity = |rng: &mut Rng| [0, 1, 8][rng.index(3)];
        let quota = 100 + rng.index(900);
        // Participant 0 of each side is always a thread, 1 a goroutine.
        let on_thread = |rng: &mut Rng, i: usize| i == 0 || (i > 1 && rng.one_in(3));
        Plan {
            capacities: [capacity(rng), capacity(rng)],
            gomaxprocs: [1, 2, 4][rng.index(3)],
            quota,
            producer_on_thread: std::array::from_fn(|i| on_thread(rng, i)),
            consumer_on_thread: std::array::from_fn(|i| on_thread(rng, i)),
            close_after: rng.one_in(4).then(|| rng.index(quota)),
            // A quarter of the rounds, every consumer quits while values
            // still come (the channels close with values buffered); else
            // some consumers quit, maybe after the producers are done.
            quit_after: if rng.one_in(4) {
                std::array::from_fn(|_| Some(rng.index(quota)))
            } else {
                std::array::from_fn(|_| rng.one_in(4).then(|| rng.index(quota * 2)))
            },
        }
    }

    /// Whether every consumer quits: only then may a channel lose its last
    /// receiver while values are buffered.
    fn all_consumers_quit(&self) -> bool {
        self.quit_after.iter().all(Option::is_some)
    }

    /// Ledger slots per producer: a select arm that did not run, or timed
    /// out, spends a token, so allow for many.
    fn slots_per_producer(&self) -> usize {
        self.quota * 4
    }
}

// ---- participants: goroutines or threads ----

/// What a producer reports when its round is over.
struct ProducerReport {
    /// Tokens it made: its ledger slots `first..first + made`.
    made: usize,
    sent: usize,
    returned: usize,
    unsent: usize,
}

/// Sends tokens from ledger slots `first..first + slots` until `quota` of
/// them went through or both channels are closed.
struct Producer {
    txs: [Sender<Token>; 2],
    ledger: Arc<Ledger>,
    first: usize,
    slots: usize,
    quota: usize,
    close_after: Option<usize>,
    rng: Rng,
    beat: Beat,
}

/// How one attempt to send went.
enum Sent {
    Yes,
    /// The channel is closed; the token came back.
    Closed(usize, Token),
    /// Not sent in time; the token came back, to be offered again.
    Later(Token),
    /// Not sent in time; a select dropped the token.
    Dropped(usize),
}

impl Producer {
    fn run(mut self) -> ProducerReport {
        let mut report = ProducerReport {
            made: 0,
            sent: 0,
            returned: 0,
            unsent: 0,
        };
        let mut open = [true, true];
        let mut held: Option<Token> = None;
        while report.sent < self.quota && open.contains(&true) {
            if self.close_after == Some(report.sent) {
                self.txs[0].close();
                self.close_after = None;
            }
            let token = match held.take() {
                Some(token) => token,
                None if report.made < self.slots => self.make(&mut report),
                None => break, // spent every slot on timeouts
            };
            let to = if open == [true, true] {
                self.rng.index(2)
            } else {
                usize::from(open[1])
            };
            let outcome = match self.rng.index(5) {
                0 => match self.txs[to].send(token) {
                    Ok(()) => Sent::Yes,
                    Err(e) => Sent::Closed(to, e.0),
                },
                1 => match self.txs[to].send_timeout(token, PATIENCE) {
                    Ok(()) => Sent::Yes,
                    Err(SendTimeoutError::Timeout(t)) => Sent::Later(t),
                    Err(SendTimeoutError::Disconnected(t)) => Sent::Closed(to, t),
                },
                2 => match self.txs[to].try_send(token) {
                    Ok(()) => Sent::Yes,
                    Err(TrySendError::Full(t)) => {
                        goro::gosched();
                        Sent::Later(t)
                    }
                    Err(TrySendError::Disconnected(t)) => Sent::Closed(to, t),
                },
                3 => {
                    let index = token.index;
                    let tx = &self.txs[to];
                    select! {
                        send(tx, token) -> r => match r {
                            Ok(()) => Sent::Yes,
                            Err(e) => Sent::Closed(to, e.0),
                        },
                        recv(goro::time::after(PATIENCE)) -> _ => Sent::Dropped(index),
                    }
                }
                _ => self.offer_to_both(token, &open, &mut report),
            };
            match outcome {
                Sent::Yes => report.sent += 1,
                Sent::Closed(channel, token) => {
                    open[channel] = false;
                    token.end(RETURNED);
                    report.returned += 1;
                }
                Sent::Later(token) => held = Some(token),
                Sent::Dropped(index) => {
                    self.ledger.unsent(index);
                    report.unsent += 1;
                }
            }
            self.beat.tick();
        }
        // Held tokens are offered again before the loop can end: none is
        // left (were one, its drop would show as an unexpected DROPPED).
        report
    }

    fn make(&self, report: &mut ProducerReport) -> Token {
        let index = self.first + report.made;
        report.made += 1;
        Token {
            ledger: Arc::clone(&self.ledger),
            index,
            ended: false,
        }
    }

    /// A select offering `token` to one channel and a second token to the
    /// other (when both are open): the arm that does not run drops its
    /// token.
    fn offer_to_both(&self, token: Token, open: &[bool; 2], report: &mut ProducerReport) -> Sent {
        if *open != [true, true] || report.made >= self.slots {
            return Sent::Later(token);
        }
        let second = self.make(report);
        let (first_index, second_index) = (token.index, second.index);
        let [tx0, tx1] = &self.txs;
        let sent = |channel, r: Result<(), goro::SendError<Token>>| match r {
            Ok(()) => Sent::Yes,
            Err(e) => Sent::Closed(channel, e.0),
        };
        let (outcome, not_run) = select! {
            send(tx0, token) -> r => (sent(0, r), second_index),
            send(tx1, second) -> r => (sent(1, r), first_index),
        };
        // The select is over: it dropped the token of the arm not run.
        self.ledger.unsent(not_run);
        report.unsent += 1;
        outcome
    }
}

/// Receives until both channels are closed and drained, or until its
/// `quit_after` count; returns how many tokens it received.
struct Consumer {
    rxs: [Receiver<Token>; 2],
    quit_after: Option<usize>,
    rng: Rng,
    beat: Beat,
}

/// How one attempt to receive went.
enum Got {
    Token(Token),
    Closed(usize),
    Nothing,
}

impl Consumer {
    fn run(mut self) -> usize {
        let mut received = 0;
        let mut open = [true, true];
        while open.contains(&true) && self.quit_after != Some(received) {
            let got = if open == [true, true] {
                self.receive_from_both()
            } else {
                self.receive_from_one(usize::from(open[1]))
            };
            match got {
                Got::Token(token) => {
                    token.end(RECEIVED);
                    received += 1;
                }
                Got::Closed(channel) => open[channel] = false,
                Got::Nothing => {}
            }
            self.beat.tick();
        }
        received // the receivers go here: quitting closes once all went
    }

    fn receive_from_both(&mut self) -> Got {
        let [rx0, rx1] = &self.rxs;
        let got = |channel, r: Result<Token, goro::RecvError>| match r {
            Ok(token) => Got::Token(token),
            Err(_) => Got::Closed(channel),
        };
        match self.rng.index(4) {
            0 => select! {
                recv(rx0) -> r => got(0, r),
                recv(rx1) -> r => got(1, r),
            },
            1 => select! {
                recv(rx0) -> r => got(0, r),
                recv(rx1) -> r => got(1, r),
                recv(goro::time::after(PATIENCE)) -> _ => Got::Nothing,
            },
            2 => select! {
                recv(rx0) -> r => got(0, r),
                recv(rx1) -> r => got(1, r),
                recv(rx0) -> r => got(0, r),
                default(PATIENCE) => Got::Nothing,
            },
            _ => select! {
                recv(rx1) -> r => got(1, r),
                recv(rx0) -> r => got(0, r),
                default => {
                    goro::gosched(); // let a producer on this worker run
                    Got::Nothing
                },
            },
        }
    }

    fn receive_from_one(&mut self, channel: usize) -> Got {
        let rx = &self.rxs[channel];
        match self.rng.index(3) {
            0 => rx.recv().map_or(Got::Closed(channel), Got::Token),
            1 => match rx.recv_timeout(PATIENCE) {
                Ok(token) => Got::Token(token),
                Err(RecvTimeoutError::Timeout) => Got::Nothing,
                Err(RecvTimeoutError::Disconnected) => Got::Closed(channel),
            },
            _ => select! {
                recv(rx) -> r => r.map_or(Got::Closed(channel), Got::Token),
                recv(goro::time::after(PATIENCE)) -> _ => Got::Nothing,
            },
        }
    }
}

// ---- a round and the test ----

/// Runs one round and checks that every token ended exactly once.
fn round(plan: &Plan, seed: u64, producer_beats: &[Beat], consumer_beats: &[Beat]) {
    let slots = plan.slots_per_producer();
    let ledger = Arc::new(Ledger::new(slots * PRODUCERS));
    let (tx0, rx0) = chan::<Token>(plan.capacities[0]);
    let (tx1, rx1) = chan::<Token>(plan.capacities[1]);
    let mut rng = Rng::new(seed);

    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|i| {
            let consumer = Consumer {
                rxs: [rx0.clone(), rx1.clone()],
                quit_after: plan.quit_after[i],
                rng: Rng::new(rng.next()),
                beat: consumer_beats[i].clone(),
            };
            Participant::start(plan.consumer_on_thread[i], move || consumer.run())
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|i| {
            let producer = Producer {
                txs: [tx0.clone(), tx1.clone()],
                ledger: Arc::clone(&ledger),
                first: i * slots,
                slots,
                quota: plan.quota,
                close_after: plan.close_after.filter(|_| i == 0),
                rng: Rng::new(rng.next()),
                beat: producer_beats[i].clone(),
            };
            Participant::start(plan.producer_on_thread[i], move || producer.run())
        })
        .collect();
    // From here on only the participants hold the channels' ends.
    drop((tx0, tx1, rx0, rx1));

    let reports: Vec<ProducerReport> = producers.into_iter().map(Participant::join).collect();
    let received: usize = consumers.into_iter().map(Participant::join).sum();

    for (p, report) in reports.iter().enumerate() {
        for index in p * slots..p * slots + report.made {
            assert_ne!(
                ledger.ending(index),
                IN_FLIGHT,
                "token {index} (producer {p}) was lost: it never ended"
            );
        }
    }
    let sum = |field: fn(&ProducerReport) -> usize| reports.iter().map(field).sum::<usize>();
    let dropped = ledger.count(DROPPED);
    assert_eq!(ledger.count(RECEIVED), received, "received tokens");
    assert_eq!(
        ledger.count(RETURNED),
        sum(|r| r.returned),
        "returned tokens"
    );
    assert_eq!(
        ledger.count(UNSENT),
        sum(|r| r.unsent),
        "unsent select arms"
    );
    assert_eq!(
        sum(|r| r.sent),
        received + dropped,
        "every token sent is received once, or dropped with the last receiver"
    );
    if !plan.all_consumers_quit() {
        assert_eq!(dropped, 0, "a consumer drained both channels: none dropped");
    }
}

/// Names the failing round when a check panics.
struct RoundReport {
    round: u64,
    seed: u64,
}

impl Drop for RoundReport {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "stress_chan: round {} failed (GORO_STRESS_SEED={} replays its plan)",
                self.round, self.seed
            );
        }
    }
}

#[test]
fn every_value_sent_is_received_exactly_once() {
    let budget = stress::budget(Duration::from_secs(3));
    let seed = stress::seed("stress_chan", budget);
    let watchdog = Watchdog::start("every_value_sent_is_received_exactly_once");
    let rounds_beat = watchdog.beat("rounds");
    let producer_beats: Vec<Beat> = (0..PRODUCERS)
        .map(|i| watchdog.beat(format!("producer {i}")))
        .collect();
    let consumer_beats: Vec<Beat> = (0..CONSUMERS)
        .map(|i| watchdog.beat(format!("consumer {i}")))
        .collect();
    let original_procs = goro::gomaxprocs(0);

    let mut plans = Rng::new(seed);
    let start = Instant::now();
    let mut rounds = 0u64;
    while rounds == 0 || start.elapsed() < budget {
        let round_seed = plans.next();
        let plan = Plan::draw(&mut Rng::new(round_seed));
        goro::gomaxprocs(plan.gomaxprocs);
        let report_on_failure = RoundReport {
            round: rounds,
            seed,
        };
        round(&plan, round_seed, &producer_beats, &consumer_beats);
        drop(report_on_failure);
        rounds += 1;
        rounds_beat.tick();
    }
    goro::gomaxprocs(original_procs);
    eprintln!("stress_chan: {rounds} rounds");
}
