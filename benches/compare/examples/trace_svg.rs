//! Draws a goro execution trace (Chrome trace-event JSON, from
//! `goro::trace` or `GORO_TRACE=path`) as an SVG timeline: one lane per
//! worker thread (and sysmon, and any other thread that woke a
//! goroutine), each goroutine's time slices coloured by its id, parks as
//! gaps, a time axis and a legend.
//!
//! ```text
//! GORO_TRACE=trace.json cargo run --release --example hogs
//! cargo run --release -p goro-compare --example trace_svg -- trace.json out.svg
//! cargo run --release -p goro-compare --example trace_svg -- trace.json out.svg --from 20000 --to 25000
//! ```
//!
//! `--from`/`--to` pick a window (µs since the trace started; default: all
//! of it). Below each lane, grey marks are reactor polls and orange ones
//! timers firing; a red tick ends a slice that sysmon preempted; a black
//! triangle is a steal; thin grey lines are wake-ups (waker to wakee),
//! drawn when the window holds at most `--max-flows` of them.

use clap::Parser;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Draws a goro execution trace as an SVG timeline.
#[derive(Parser)]
struct Args {
    /// The trace (Chrome trace-event JSON written by goro::trace).
    input: PathBuf,
    /// The SVG to write.
    output: PathBuf,
    /// Window start, µs since the trace began.
    #[arg(long)]
    from: Option<f64>,
    /// Window end, µs since the trace began.
    #[arg(long)]
    to: Option<f64>,
    /// Picture width in pixels.
    #[arg(long, default_value_t = 1200)]
    width: u32,
    /// Most wake-up flows to draw (more would hide the slices).
    #[arg(long, default_value_t = 300)]
    max_flows: usize,
    /// A title line (default: the input's file name and the window).
    #[arg(long)]
    title: Option<String>,
}

struct Slice {
    tid: u64,
    ts: f64,
    dur: f64,
    g: u64,
    name: Option<String>,
    /// Why it ended, with the park's reason and place if any.
    end: String,
}

struct Mark {
    tid: u64,
    ts: f64,
    dur: f64,
    kind: MarkKind,
}

#[derive(Clone, Copy, PartialEq)]
enum MarkKind {
    Poll,
    Timer,
    Steal,
    HandOff,
}

struct Trace {
    lanes: BTreeMap<u64, String>,
    slices: Vec<Slice>,
    marks: Vec<Mark>,
    /// (from tid, from ts, to tid, to ts).
    flows: Vec<(u64, f64, u64, f64)>,
}

fn load(path: &PathBuf) -> Result<Trace, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    let events = json["traceEvents"]
        .as_array()
        .ok_or_else(|| format!("{} has no traceEvents array", path.display()))?;
    let mut trace = Trace {
        lanes: BTreeMap::new(),
        slices: Vec::new(),
        marks: Vec::new(),
        flows: Vec::new(),
    };
    let mut flow_starts: HashMap<u64, (u64, f64)> = HashMap::new();
    for e in events {
        let tid = e["tid"].as_u64().unwrap_or(0);
        let ts = e["ts"].as_f64().unwrap_or(0.0);
        let dur = e["dur"].as_f64().unwrap_or(0.0);
        let name = e["name"].as_str().unwrap_or("");
        match (
            e["ph"].as_str().unwrap_or(""),
            e["cat"].as_str().unwrap_or(""),
        ) {
            ("M", _) if name == "thread_name" => {
                let lane = e["args"]["name"].as_str().unwrap_or("?").to_string();
                trace.lanes.insert(tid, lane);
            }
            ("X", "goroutine") => trace.slices.push(Slice {
                tid,
                ts,
                dur,
                g: e["args"]["goroutine"].as_u64().unwrap_or(0),
                name: e["args"]["name"].as_str().map(String::from),
                end: ["end", "reason", "location"]
                    .iter()
                    .filter_map(|k| e["args"][*k].as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
            ("X", "reactor") => trace.marks.push(Mark {
                tid,
                ts,
                dur,
                kind: MarkKind::Poll,
            }),
            ("X", "timer") => trace.marks.push(Mark {
                tid,
                ts,
                dur,
                kind: MarkKind::Timer,
            }),
            ("i", _) => {
                let kind = match name {
                    "steal" => MarkKind::Steal,
                    _ => MarkKind::HandOff,
                };
                trace.marks.push(Mark {
                    tid,
                    ts,
                    dur: 0.0,
                    kind,
                })
            }
            ("s", "wake") => {
                if let Some(id) = e["id"].as_u64() {
                    flow_starts.insert(id, (tid, ts));
                }
            }
            ("f", "wake") => {
                if let Some((from, at)) = e["id"].as_u64().and_then(|id| flow_starts.get(&id)) {
                    trace.flows.push((*from, *at, tid, ts));
                }
            }
            _ => {}
        }
    }
    for s in &trace.slices {
        trace
            .lanes
            .entry(s.tid)
            .or_insert_with(|| format!("thread {}", s.tid));
    }
    Ok(trace)
}

/// A colour per goroutine: hues spread by the golden angle.
fn colour(g: u64) -> String {
    let hue = (g as f64 * 137.508) % 360.0;
    let light = 45 + (g % 3) * 8;
    format!("hsl({hue:.0},65%,{light}%)")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round step for about `n` ticks over `span` µs.
fn tick_step(span: f64, n: f64) -> f64 {
    let raw = span / n;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

fn label(us: f64, step: f64) -> String {
    if step >= 1000.0 {
        format!("{:.*} ms", if step >= 10000.0 { 0 } else { 1 }, us / 1000.0)
    } else if step >= 1.0 {
        format!("{us:.0} µs")
    } else {
        format!("{us:.2} µs")
    }
}

fn render(trace: &Trace, args: &Args) -> String {
    let last = trace
        .slices
        .iter()
        .map(|s| s.ts + s.dur)
        .chain(trace.marks.iter().map(|m| m.ts + m.dur))
        .fold(0.0, f64::max);
    let from = args.from.unwrap_or(0.0).max(0.0);
    let to = args.to.unwrap_or(last).max(from + 0.001);
    let span = to - from;
    let visible = |ts: f64, dur: f64| ts + dur >= from && ts <= to;
    let lanes: Vec<(u64, &String)> = trace.lanes.iter().map(|(t, n)| (*t, n)).collect();
    let lane_index: HashMap<u64, usize> = lanes
        .iter()
        .enumerate()
        .map(|(i, (t, _))| (*t, i))
        .collect();

    let (left, right, top, lane_h) = (90.0, 40.0, 52.0, 34.0);
    let plot_w = f64::from(args.width) - left - right;
    let x = |ts: f64| left + (ts.clamp(from, to) - from) / span * plot_w;
    let lane_y = |tid: u64| top + lane_index[&tid] as f64 * lane_h;
    let axis_y = top + lanes.len() as f64 * lane_h + 6.0;

    // Run time per goroutine in the window, for the legend.
    let mut busy: HashMap<u64, (f64, Option<&str>)> = HashMap::new();
    for s in trace.slices.iter().filter(|s| visible(s.ts, s.dur)) {
        let d = (s.ts + s.dur).min(to) - s.ts.max(from);
        let e = busy.entry(s.g).or_insert((0.0, None));
        e.0 += d.max(0.0);
        if e.1.is_none() {
            e.1 = s.name.as_deref();
        }
    }
    let mut legend: Vec<(u64, f64, Option<&str>)> =
        busy.iter().map(|(g, (d, n))| (*g, *d, *n)).collect();
    legend.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let shown = legend.len().min(16);
    let legend_rows = shown.div_ceil(4) + 1;
    let height = axis_y + 40.0 + legend_rows as f64 * 18.0 + 10.0;

    let mut svg = String::new();
    let w = args.width;
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height:.0}" viewBox="0 0 {w} {height:.0}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let title = args.title.clone().unwrap_or_else(|| {
        let file = args
            .input
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
        format!("{file}: {:.3} ms to {:.3} ms", from / 1000.0, to / 1000.0)
    });
    let slices_in: usize = trace.slices.iter().filter(|s| visible(s.ts, s.dur)).count();
    let _ = writeln!(
        svg,
        r#"<text x="{left}" y="20" font-size="14" font-weight="bold">{}</text>"#,
        escape(&title)
    );
    let _ = writeln!(
        svg,
        r##"<text x="{left}" y="38" fill="#555">{slices_in} goroutine slices of {} goroutines on {} lanes; gaps: parked or idle; the axis starts {:.3} ms into the trace</text>"##,
        busy.len(),
        lanes.len(),
        from / 1000.0
    );

    for (i, (tid, name)) in lanes.iter().enumerate() {
        let y = top + i as f64 * lane_h;
        let fill = if i % 2 == 0 { "#f6f6f6" } else { "#ffffff" };
        let _ = writeln!(
            svg,
            r#"<rect x="{left}" y="{y}" width="{plot_w}" height="{lane_h}" fill="{fill}"/>"#
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            left - 6.0,
            y + lane_h / 2.0 + 4.0,
            escape(name)
        );
        let _ = tid;
    }

    // Slices: a rect per slice (at least a hairline wide), a red tick
    // where sysmon preempted it.
    for s in trace.slices.iter().filter(|s| visible(s.ts, s.dur)) {
        let (x0, x1) = (x(s.ts), x(s.ts + s.dur));
        let y = lane_y(s.tid) + 3.0;
        let title = match &s.name {
            Some(n) => format!("g{} {n}: {:.3} µs, {}", s.g, s.dur, s.end),
            None => format!("g{}: {:.3} µs, {}", s.g, s.dur, s.end),
        };
        let _ = writeln!(
            svg,
            r#"<rect x="{x0:.2}" y="{y}" width="{:.2}" height="22" fill="{}"><title>{}</title></rect>"#,
            (x1 - x0).max(0.4),
            colour(s.g),
            escape(&title)
        );
        if s.end.starts_with("preempted") && s.ts + s.dur <= to {
            let _ = writeln!(
                svg,
                r##"<rect x="{:.2}" y="{}" width="1.5" height="26" fill="#d00"/>"##,
                x1 - 0.75,
                y - 2.0
            );
        }
    }
    for m in trace.marks.iter().filter(|m| visible(m.ts, m.dur)) {
        let Some(&row) = lane_index.get(&m.tid) else {
            continue;
        };
        let y = top + row as f64 * lane_h;
        let (x0, x1) = (x(m.ts), x(m.ts + m.dur));
        match m.kind {
            MarkKind::Poll | MarkKind::Timer => {
                let (fill, dy) = match m.kind {
                    MarkKind::Poll => ("#888", 27.0),
                    _ => ("#f90", 30.0),
                };
                let _ = writeln!(
                    svg,
                    r#"<rect x="{x0:.2}" y="{}" width="{:.2}" height="3" fill="{fill}"/>"#,
                    y + dy,
                    (x1 - x0).max(0.6)
                );
            }
            MarkKind::Steal | MarkKind::HandOff => {
                let fill = if m.kind == MarkKind::Steal {
                    "#000"
                } else {
                    "#d00"
                };
                let _ = writeln!(
                    svg,
                    r#"<path d="M{:.2},{} l-3,-5 h6 z" fill="{fill}"/>"#,
                    x0,
                    y + 5.0
                );
            }
        }
    }
    let flows: Vec<_> = trace
        .flows
        .iter()
        .filter(|f| f.1 >= from && f.3 <= to)
        .filter(|f| lane_index.contains_key(&f.0) && lane_index.contains_key(&f.2))
        .collect();
    if flows.len() <= args.max_flows {
        for (a, at, b, bt) in flows {
            // An arc over the lane when waker and wakee share it.
            let (x1, y1, x2, y2) = (x(*at), lane_y(*a) + 14.0, x(*bt), lane_y(*b) + 14.0);
            let lift = if a == b { 12.0 } else { 0.0 };
            let _ = writeln!(
                svg,
                r##"<path d="M{x1:.2},{y1} Q{:.2},{:.2} {x2:.2},{y2}" fill="none" stroke="#444" stroke-width="0.6" stroke-opacity="0.7"/>"##,
                (x1 + x2) / 2.0,
                (y1 + y2) / 2.0 - lift
            );
        }
    }

    // Time axis.
    let step = tick_step(span, 8.0);
    let _ = writeln!(
        svg,
        r##"<line x1="{left}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="#000"/>"##,
        left + plot_w
    );
    let mut t = (from / step).ceil() * step;
    while t <= to + step * 1e-9 {
        let tx = x(t);
        let _ = writeln!(
            svg,
            r##"<line x1="{tx:.2}" y1="{axis_y}" x2="{tx:.2}" y2="{}" stroke="#000"/><text x="{tx:.2}" y="{}" text-anchor="middle">{}</text>"##,
            axis_y + 5.0,
            axis_y + 18.0,
            label(t - from, step)
        );
        t += step;
    }

    // Legend: the goroutines that ran longest in the window, then the marks.
    let ly = axis_y + 40.0;
    for (i, (g, d, name)) in legend.iter().take(shown).enumerate() {
        let (lx, y) = (
            left + (i % 4) as f64 * (plot_w / 4.0),
            ly + (i / 4) as f64 * 18.0,
        );
        let text = match name {
            Some(n) => format!("g{g} {n}: {}", label(*d, (*d).max(1.0))),
            None => format!("g{g}: {}", label(*d, (*d).max(1.0))),
        };
        let _ = writeln!(
            svg,
            r#"<rect x="{lx}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            y - 10.0,
            colour(*g),
            lx + 16.0,
            y,
            escape(&text)
        );
    }
    let y = ly + (legend_rows - 1) as f64 * 18.0;
    let more = legend.len().saturating_sub(shown);
    let others = if more > 0 {
        format!("(+{more} more goroutines)   ")
    } else {
        String::new()
    };
    let _ = writeln!(
        svg,
        r##"<text x="{left}" y="{y}" fill="#333">{others}marks: <tspan fill="#888">▬ poll</tspan>  <tspan fill="#f90">▬ timer</tspan>  <tspan fill="#d00">| preempted</tspan>  ▼ steal  <tspan fill="#d00">▼ hand-off</tspan>  — wake-up</text>"##
    );
    svg.push_str("</svg>\n");
    svg
}

fn main() {
    let args = Args::parse();
    let trace = match load(&args.input) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("trace_svg: {e}");
            std::process::exit(1);
        }
    };
    let svg = render(&trace, &args);
    if let Err(e) = std::fs::write(&args.output, svg) {
        eprintln!("trace_svg: cannot write {}: {e}", args.output.display());
        std::process::exit(1);
    }
}
