//! The first goro program: a named goroutine, an anonymous one and the main
//! goroutine take turns on one worker with `gosched`; one of them leaves
//! early with `goexit`, running its destructors on the way out.
//!
//! Run: `cargo run --release --example hello`

#[macro_use]
#[path = "support/out.rs"]
mod out;

use clap::Parser;
use std::time::Instant;

struct Farewell(&'static str);

impl Drop for Farewell {
    fn drop(&mut self) {
        say!("  [{}] destructor ran on the way out", self.0);
    }
}

/// The first goro program: goroutines taking turns on one worker with
/// `gosched`, one leaving early with `goexit`. Takes no arguments.
#[derive(Parser)]
struct Args {}

fn main() {
    Args::parse();
    let previous = goro::gomaxprocs(1);
    goro::run(move || {
        say!(
            "{} CPUs; gomaxprocs was {previous}, now 1: watch three goroutines share one worker",
            goro::num_cpu()
        );

        let named = goro::Builder::new()
            .name("greeter".to_string())
            .spawn(|| {
                let me = goro::current().expect("running in a goroutine");
                for round in 1..=3 {
                    say!("{} says hello (round {round})", me.name().unwrap_or("?"));
                    goro::gosched();
                }
                "greeter done"
            })
            .expect("spawn the greeter");

        let anonymous = goro::go!(move || -> u32 {
            let _bye = Farewell("anonymous");
            let me = goro::current().expect("running in a goroutine");
            for round in 1..=3 {
                say!("goroutine {} (no name) says hi (round {round})", me.id());
                if round == 2 {
                    say!("goroutine {} calls goexit", me.id());
                    goro::goexit();
                }
                goro::gosched();
            }
            unreachable!("goexit does not return")
        });

        for round in 1..=3 {
            say!(
                "main says hey (round {round}); {} goroutines alive",
                goro::num_goroutine()
            );
            goro::gosched();
        }

        say!("{}", named.join().expect("greeter returns"));
        match anonymous.join() {
            Err(e) if e.is_goexit() => say!("{e}"),
            other => say!("unexpected: {other:?}"),
        }

        goro::gomaxprocs(previous);
        let start = Instant::now();
        let handles: Vec<_> = (0..10_000u64).map(|i| goro::go!(move || i)).collect();
        let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        say!(
            "then 10,000 goroutines on {} workers summed to {sum} in {:?}",
            goro::gomaxprocs(0),
            start.elapsed()
        );
    });
}
