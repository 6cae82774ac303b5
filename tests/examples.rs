//! The short examples run to the end, without a panic or an abort, when
//! their stdout is a pipe nobody reads any more (`| head -1` after `head`
//! quit). `hello` prints from a destructor while a goroutine unwinds
//! (`goexit`), where a panicking print aborts the process.
//!
//! Runs the example binaries themselves, built here with the profile of
//! this test (a no-op after `cargo test`, which builds the examples).

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Command, Stdio};

const EXAMPLES: [(&str, &[&str]); 3] = [("hello", &[]), ("pipeline", &[]), ("sieve", &["20"])];

/// Where cargo puts the examples of this test's profile, after building
/// them.
fn build_examples() -> PathBuf {
    let profile_dir = std::env::current_exe()
        .unwrap()
        .parent() // deps
        .and_then(|d| d.parent())
        .unwrap()
        .to_path_buf();
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .arg("--target-dir")
        .arg(profile_dir.parent().unwrap());
    if profile_dir.ends_with("release") {
        cargo.arg("--release");
    }
    for (name, _) in EXAMPLES {
        cargo.args(["--example", name]);
    }
    let status = cargo.status().unwrap();
    assert!(status.success(), "cargo build of the examples: {status}");
    profile_dir.join("examples")
}

/// The writing end of a pipe whose reading end is already closed.
fn closed_pipe() -> OwnedFd {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) writes two new descriptors into the array we own.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created and are owned by nobody
    // else; dropping the reading end closes it.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    write
}

#[test]
fn short_examples_survive_a_closed_stdout() {
    let dir = build_examples();
    for (name, args) in EXAMPLES {
        let out = Command::new(dir.join(name))
            .args(args)
            .env("RUST_BACKTRACE", "0")
            .stdout(Stdio::from(closed_pipe()))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {}\n{stderr}", out.status);
        assert!(!stderr.contains("panicked"), "{name}:\n{stderr}");
    }
}
