//! The execution trace: which goroutine ran when, on which worker, why it
//! stopped and who woke it, as Chrome's trace-event JSON, which Perfetto
//! (<https://ui.perfetto.dev>, "Open trace file") and `chrome://tracing`
//! open.
//!
//! Record a stretch of a program with [`start`] and [`stop`], or a whole
//! run with `GORO_TRACE=path`: the trace starts with the runtime and is
//! written when the main goroutine of [`run`](crate::run),
//! [`main`](crate::main()) or `#[goro::main]` returns (or earlier, at
//! [`stop`]). A program that ends otherwise (`std::process::exit`, a
//! signal, a `main` that never went through goro's entry points) writes no
//! trace unless it calls [`stop`] itself; a path that cannot be created is
//! reported on stderr and the program runs untraced.
//!
//! # What the file holds
//!
//! One lane (`tid`) per worker thread ("worker N"), one for sysmon, and one
//! per other thread that woke a goroutine (named after the thread):
//!
//! - a complete event (`"ph":"X"`, category `goroutine`) per time slice: a
//!   goroutine running on that worker from `ts` for `dur` µs, with `args`
//!   `goroutine` (its id), `name`, `end` (why the slice ended: `park`,
//!   `gosched`, `preempted (yield)` when sysmon asked it to end its slice
//!   and it yielded at a goro call, `preempted (paused)` when sysmon
//!   stopped its thread with a signal, `exit`, `lock_os_thread`,
//!   `unlock_os_thread`, or `running at trace end`) and, for a park,
//!   `reason` (the [`WaitReason`](crate::WaitReason)'s words) and
//!   `location` (the blocking call's place in the program,
//!   `src/main.rs:88:21`, as [`dump`](crate::dump()) shows it);
//! - a flow (`"ph":"s"` from the waker, `"ph":"f"` at the start of the
//!   wakee's next slice, one `id` per wake-up, category `wake`) for every
//!   parked goroutine made runnable: from the waking goroutine's slice, or
//!   from a zero-length `wake` slice on the lane of the thread that woke it
//!   (a timer, a poll, a plain thread);
//! - `poll` slices (a reactor poll: `woken` waiters; `poll (blocking)` for
//!   an idle worker sleeping in it), `timer` slices (a timer's action),
//!   and instant events for `steal` (from which worker, how many) and
//!   `hand-off` (sysmon gave a stuck worker's queue to another thread).
//!
//! Timestamps are µs since the trace started (fractions are ns). A
//! goroutine's turn that was already running when the trace started is
//! not in it (the worker chooses the traced switch at the start of each
//! turn); its next turn is.
//!
//! # Cost
//!
//! Off, every event site costs one relaxed load of a static. On, each
//! thread appends to a buffer of its own (no lock or cache line shared
//! between threads per event), at most about a million events per thread
//! per trace (later ones are counted in `otherData.dropped_events`).
//! `README.md` ("Observability / execution trace") has the measured
//! overheads.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use crate::scheduler::trace::{
    self as rec, Event, Finished, Origin, Output, Stop, ThreadEvents, Victim, Want,
};

/// Starts recording an execution trace that [`stop`] writes to `path`
/// (created, or truncated, now).
///
/// # Errors
///
/// If a trace runs already (started here, by `GORO_TRACE`, or by the debug
/// endpoint), or if `path` cannot be created (the error names it; nothing
/// is recorded).
///
/// ```
/// let path = std::env::temp_dir().join(format!("goro-doc-start-{}.json", std::process::id()));
/// goro::trace::start(&path)?;
/// assert!(goro::trace::start(&path).is_err()); // one at a time
/// goro::go!(|| goro::gosched()).join().unwrap();
/// goro::trace::stop()?;
/// let json = std::fs::read_to_string(&path)?;
/// assert!(json.starts_with("{\"traceEvents\":["));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn start(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    rec::begin(Origin::Start, || {
        let file = File::create(path).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
        })?;
        Ok(Output::File(file, path.to_path_buf()))
    })
    .map(drop)
    .map_err(|e| context("goro::trace::start", e))
}

/// Stops the running trace and writes it (to the path given to [`start`]
/// or `GORO_TRACE`). From a goroutine, the writing (tens of MB for a
/// busy second) runs on the blocking pool while the goroutine parks.
///
/// # Errors
///
/// If no trace runs (or only the debug endpoint's capture, which ends by
/// itself), or if writing the file fails.
///
/// ```
/// assert!(goro::trace::stop().is_err()); // nothing to stop
/// let path = std::env::temp_dir().join(format!("goro-doc-stop-{}.json", std::process::id()));
/// goro::trace::start(&path)?;
/// let (tx, rx) = goro::chan::<u32>(0);
/// goro::go!(move || tx.send(7).unwrap());
/// assert_eq!(rx.recv().unwrap(), 7);
/// goro::trace::stop()?;
/// assert!(std::fs::read_to_string(&path)?.contains("\"cat\":\"goroutine\""));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn stop() -> io::Result<()> {
    match rec::finish(Want::File) {
        Ok(finished) => crate::blocking(move || write_out(finished)),
        Err(None) => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "goro::trace::stop: no trace is running",
        )),
        Err(Some(_)) => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "goro::trace::stop: no trace of goro::trace::start or GORO_TRACE is running \
             (the debug endpoint is capturing one, which ends by itself)",
        )),
    }
}

/// Traces the next `d` (parking the calling goroutine meanwhile, or
/// sleeping the calling thread) and returns the trace's JSON: the debug
/// endpoint's `/debug/trace?seconds=N`.
///
/// # Errors
///
/// If a trace runs already.
#[cfg_attr(not(test), allow(dead_code))] // called by debug::serve (h-endpoint)
pub(crate) fn capture(d: Duration) -> io::Result<Vec<u8>> {
    let session = rec::begin(Origin::Capture, || Ok(Output::Memory))
        .map_err(|e| context("goro: trace capture", e))?;
    crate::time::sleep(d);
    let finished = rec::finish(Want::Session(session))
        .map_err(|_| io::Error::other("goro: trace capture: the trace ended early"))?;
    let mut json = Vec::new();
    write_json(&finished, &mut json)?;
    Ok(json)
}

/// Writes the trace `GORO_TRACE` started, if it still runs: the entry
/// points call this when the main goroutine returns. Failures go to
/// stderr (the program is ending; there is nobody to return them to).
pub(crate) fn write_env_trace() {
    if let Ok(finished) = rec::finish(Want::Env) {
        if let Err(e) = write_out(finished) {
            eprintln!("goro: GORO_TRACE: {e}");
        }
    }
}

fn context(what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn write_out(finished: Finished) -> io::Result<()> {
    let Output::File(file, path) = &finished.output else {
        unreachable!("only file traces are written out");
    };
    let mut out = BufWriter::new(file);
    write_json(&finished, &mut out)
        .and_then(|()| out.flush())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))
}

/// Why a slice ended, as the JSON says it.
#[derive(Clone, Copy)]
enum SliceEnd {
    Stopped(Stop),
    Paused,
    TraceEnd,
}

struct Slice {
    lane: usize,
    g: u64,
    start: u64,
    end: u64,
    why: SliceEnd,
}

/// Turns what the threads recorded into slices: per lane, in time order,
/// a `Run` opens one, an `End` (or sysmon's `Paused`) closes it, a
/// lender's `Resumed` reopens it. A slice whose start is not in the trace
/// starts at the trace's start; one still running ends at its end.
fn slices(f: &Finished) -> Vec<Slice> {
    enum Mark {
        Open,
        Close(SliceEnd),
    }
    let mut marks: Vec<(usize, u64, usize, u64, Mark)> = Vec::new();
    for t in &f.threads {
        for e in &t.events {
            let n = marks.len();
            match *e {
                Event::Run { at, g } => marks.push((t.lane, at, n, g, Mark::Open)),
                Event::End { at, g, why } => {
                    marks.push((t.lane, at, n, g, Mark::Close(SliceEnd::Stopped(why))))
                }
                Event::Paused { at, g, lane } => {
                    marks.push((lane, at, n, g, Mark::Close(SliceEnd::Paused)))
                }
                Event::Resumed { at, g, lane } => marks.push((lane, at, n, g, Mark::Open)),
                _ => {}
            }
        }
    }
    marks.sort_by_key(|m| (m.0, m.1, m.2));
    let mut out = Vec::new();
    let mut open: Option<(usize, u64, u64)> = None;
    for (lane, at, _, g, mark) in marks {
        if let Some((l, og, start)) = open {
            if l != lane {
                out.push(slice(l, og, start, f.stopped, SliceEnd::TraceEnd));
                open = None;
            } else if matches!(mark, Mark::Open) && og == g {
                // A locked goroutine's thread, resumed by a lender: the
                // slice the lender opened goes on.
                continue;
            } else if matches!(mark, Mark::Open) {
                out.push(slice(l, og, start, at, SliceEnd::TraceEnd));
                open = None;
            }
        }
        match mark {
            Mark::Open => open = Some((lane, g, at)),
            Mark::Close(why) => {
                let start = match open.take() {
                    Some((_, og, start)) if og == g => start,
                    _ => f.started,
                };
                out.push(slice(lane, g, start, at, why));
            }
        }
    }
    if let Some((l, g, start)) = open {
        out.push(slice(l, g, start, f.stopped, SliceEnd::TraceEnd));
    }
    out
}

fn slice(lane: usize, g: u64, start: u64, end: u64, why: SliceEnd) -> Slice {
    Slice {
        lane,
        g,
        start,
        end: end.max(start),
        why,
    }
}

/// Writes `f` as Chrome trace-event JSON.
fn write_json(f: &Finished, out: &mut impl Write) -> io::Result<()> {
    let mut names: HashMap<u64, &str> = HashMap::new();
    for t in &f.threads {
        for e in &t.events {
            if let Event::Name { g, name } = e {
                names.insert(*g, name);
            }
        }
    }
    let slices = slices(f);
    let mut w = Writer {
        out,
        pid: std::process::id(),
        started: f.started,
        first: true,
    };
    w.out.write_all(b"{\"traceEvents\":[\n")?;
    w.metadata(f, &slices)?;
    for s in &slices {
        w.slice(s, names.get(&s.g).copied())?;
    }
    // Each goroutine's slice starts in time order, for the flows' ends.
    let mut starts: HashMap<u64, Vec<(u64, usize)>> = HashMap::new();
    for s in &slices {
        starts.entry(s.g).or_default().push((s.start, s.lane));
    }
    for v in starts.values_mut() {
        v.sort_unstable();
    }
    let mut flow = 0u64;
    for t in &f.threads {
        for e in &t.events {
            match *e {
                Event::Wake { at, g, by } => {
                    let next = starts.get(&g).and_then(|v| {
                        let i = v.partition_point(|&(start, _)| start < at);
                        v.get(i).copied()
                    });
                    if let Some((start, lane)) = next {
                        flow += 1;
                        w.wake(t.lane, at, g, by, flow, start, lane)?;
                    }
                }
                Event::Steal { at, from, batch } => {
                    let (from, slot) = match from {
                        Victim::Queue(v) => (v, "queue"),
                        Victim::Runnext(v) => (v, "runnext"),
                    };
                    w.event(
                        t.lane,
                        at,
                        "\"ph\":\"i\",\"s\":\"t\",\"name\":\"steal\",\"cat\":\"scheduler\"",
                    )?;
                    write!(
                        w.out,
                        ",\"args\":{{\"from\":\"worker {from}\",\"slot\":\"{slot}\",\"goroutines\":{batch}}}}}"
                    )?;
                }
                Event::HandOff { at, worker } => {
                    w.event(
                        t.lane,
                        at,
                        "\"ph\":\"i\",\"s\":\"t\",\"name\":\"hand-off\",\"cat\":\"scheduler\"",
                    )?;
                    write!(w.out, ",\"args\":{{\"worker\":{worker}}}}}")?;
                }
                Event::Poll {
                    at,
                    end,
                    woken,
                    blocking,
                } => {
                    let name = if blocking { "poll (blocking)" } else { "poll" };
                    w.event(
                        t.lane,
                        at,
                        &format!("\"ph\":\"X\",\"name\":\"{name}\",\"cat\":\"reactor\""),
                    )?;
                    write!(
                        w.out,
                        ",\"dur\":{},\"args\":{{\"woken\":{woken}}}}}",
                        Micros(end.saturating_sub(at))
                    )?;
                }
                Event::Timer { at, end } => {
                    w.event(
                        t.lane,
                        at,
                        "\"ph\":\"X\",\"name\":\"timer\",\"cat\":\"timer\"",
                    )?;
                    write!(w.out, ",\"dur\":{}}}", Micros(end.saturating_sub(at)))?;
                }
                _ => {}
            }
        }
    }
    let dropped: u64 = f.threads.iter().map(|t| t.dropped).sum();
    write!(
        w.out,
        "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{{\"producer\":\"goro\",\"dropped_events\":\"{dropped}\"}}}}\n"
    )
}

/// A duration or timestamp in ns, written as µs with ns fractions.
struct Micros(u64);

impl std::fmt::Display for Micros {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

struct Writer<'a, W: Write> {
    out: &'a mut W,
    pid: u32,
    started: u64,
    first: bool,
}

impl<W: Write> Writer<'_, W> {
    /// Opens an event: `{fields,"pid":..,"tid":..,"ts":..`; the caller
    /// writes the rest and the closing brace.
    fn event(&mut self, lane: usize, at: u64, fields: &str) -> io::Result<()> {
        if !self.first {
            self.out.write_all(b",\n")?;
        }
        self.first = false;
        write!(
            self.out,
            "{{{fields},\"pid\":{},\"tid\":{lane},\"ts\":{}",
            self.pid,
            Micros(at.saturating_sub(self.started))
        )
    }

    /// Names the process and every lane, workers first.
    fn metadata(&mut self, f: &Finished, slices: &[Slice]) -> io::Result<()> {
        let mut lanes: Vec<(usize, String)> = f
            .threads
            .iter()
            .map(|t: &ThreadEvents| (t.lane, t.name.clone()))
            .collect();
        // Lanes only others recorded on (a paused worker's).
        for s in slices {
            if !lanes.iter().any(|(l, _)| *l == s.lane) {
                lanes.push((s.lane, format!("worker {}", s.lane)));
            }
        }
        lanes.sort();
        lanes.dedup_by_key(|l| l.0);
        self.event(0, self.started, "\"ph\":\"M\",\"name\":\"process_name\"")?;
        self.out.write_all(b",\"args\":{\"name\":\"goro\"}}")?;
        for (lane, name) in lanes {
            self.event(lane, self.started, "\"ph\":\"M\",\"name\":\"thread_name\"")?;
            self.out.write_all(b",\"args\":{\"name\":")?;
            json_string(self.out, &name)?;
            self.out.write_all(b"}}")?;
            self.event(
                lane,
                self.started,
                "\"ph\":\"M\",\"name\":\"thread_sort_index\"",
            )?;
            write!(self.out, ",\"args\":{{\"sort_index\":{lane}}}}}")?;
        }
        Ok(())
    }

    fn slice(&mut self, s: &Slice, name: Option<&str>) -> io::Result<()> {
        self.event(s.lane, s.start, "\"ph\":\"X\",\"cat\":\"goroutine\"")?;
        self.out.write_all(b",\"name\":")?;
        match name {
            Some(n) => json_string(self.out, &format!("g{} {n}", s.g))?,
            None => write!(self.out, "\"g{}\"", s.g)?,
        }
        write!(
            self.out,
            ",\"dur\":{},\"args\":{{\"goroutine\":{}",
            Micros(s.end - s.start),
            s.g
        )?;
        if let Some(n) = name {
            self.out.write_all(b",\"name\":")?;
            json_string(self.out, n)?;
        }
        let (end, reason, location) = match s.why {
            SliceEnd::Stopped(Stop::Park(reason, location)) => ("park", reason, location),
            SliceEnd::Stopped(Stop::Gosched) => ("gosched", None, None),
            SliceEnd::Stopped(Stop::Preempted) => ("preempted (yield)", None, None),
            SliceEnd::Stopped(Stop::LockThread) => ("lock_os_thread", None, None),
            SliceEnd::Stopped(Stop::UnlockThread) => ("unlock_os_thread", None, None),
            SliceEnd::Stopped(Stop::Exited) => ("exit", None, None),
            SliceEnd::Paused => ("preempted (paused)", None, None),
            SliceEnd::TraceEnd => ("running at trace end", None, None),
        };
        write!(self.out, ",\"end\":\"{end}\"")?;
        if let Some(reason) = reason {
            write!(self.out, ",\"reason\":\"{reason}\"")?;
        }
        if let Some(location) = location {
            self.out.write_all(b",\"location\":")?;
            json_string(self.out, &location.to_string())?;
        }
        self.out.write_all(b"}}")
    }

    /// A wake-up's flow from (`lane`, `at`) to the wakee's next slice,
    /// which starts at `start` on `to_lane`; a waker that is no goroutine
    /// gets a zero-length `wake` slice for the flow to start from.
    #[allow(clippy::too_many_arguments)]
    fn wake(
        &mut self,
        lane: usize,
        at: u64,
        g: u64,
        by: Option<u64>,
        id: u64,
        start: u64,
        to_lane: usize,
    ) -> io::Result<()> {
        if by.is_none() {
            self.event(
                lane,
                at,
                "\"ph\":\"X\",\"name\":\"wake\",\"cat\":\"scheduler\"",
            )?;
            write!(self.out, ",\"dur\":0,\"args\":{{\"wakee\":{g}}}}}")?;
        }
        self.event(lane, at, "\"ph\":\"s\",\"name\":\"wake\",\"cat\":\"wake\"")?;
        write!(self.out, ",\"id\":{id},\"args\":{{\"wakee\":{g}")?;
        if let Some(by) = by {
            write!(self.out, ",\"waker\":{by}")?;
        }
        self.out.write_all(b"}}")?;
        self.event(
            to_lane,
            start,
            "\"ph\":\"f\",\"bp\":\"e\",\"name\":\"wake\",\"cat\":\"wake\"",
        )?;
        write!(self.out, ",\"id\":{id}}}")
    }
}

/// Writes `s` as a JSON string: quotes, backslashes and control
/// characters escaped (RFC 8259, section 7).
fn json_string(out: &mut impl Write, s: &str) -> io::Result<()> {
    out.write_all(b"\"")?;
    let mut rest = s;
    while let Some(i) = rest.find(|c: char| c == '"' || c == '\\' || c < ' ') {
        out.write_all(&rest.as_bytes()[..i])?;
        let c = rest.as_bytes()[i];
        match c {
            b'"' => out.write_all(b"\\\"")?,
            b'\\' => out.write_all(b"\\\\")?,
            b'\n' => out.write_all(b"\\n")?,
            b'\r' => out.write_all(b"\\r")?,
            b'\t' => out.write_all(b"\\t")?,
            _ => write!(out, "\\u{c:04x}")?,
        }
        rest = &rest[i + 1..];
    }
    out.write_all(rest.as_bytes())?;
    out.write_all(b"\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut out = Vec::new();
        json_string(&mut out, "a\"b\\c\nd\u{1}é").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\nd\\u0001é\""
        );
    }

    #[test]
    fn capture_records_a_goroutine_and_refuses_a_second() {
        let h = crate::go!(|| {
            for _ in 0..100 {
                crate::time::sleep(Duration::from_micros(200));
            }
        });
        let second = crate::go!(|| {
            crate::time::sleep(Duration::from_millis(5));
            capture(Duration::from_millis(1)).map(drop)
        });
        let json = String::from_utf8(capture(Duration::from_millis(50)).unwrap()).unwrap();
        h.join().unwrap();
        let refused = second.join().unwrap().unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::AlreadyExists);
        assert!(json.starts_with("{\"traceEvents\":["), "{json}");
        assert!(
            json.contains("\"end\":\"park\",\"reason\":\"sleep\""),
            "{json}"
        );
    }
}
