//! Child processes, std's API, waited for without blocking a thread:
//! [`Command`] builds and starts one, [`Child`] is the running child with
//! goroutine-aware pipes ([`ChildStdin`], [`ChildStdout`], [`ChildStderr`]).
//!
//! `Command` wraps [`std::process::Command`], so a child starts the way std
//! starts one: on Linux with glibc that is `posix_spawn`, whose clone
//! shares the parent's memory and suspends only the calling thread until
//! the child execs (`CLONE_VM | CLONE_VFORK`), never a `fork` that copies
//! the page tables of every pooled goroutine stack. The worker is held for
//! that moment (tens of microseconds); everything after it parks:
//!
//! * the child's pipes are made non-blocking on goro's side and registered
//!   with the reactor, so reading and writing them park the goroutine;
//! * its exit is watched through a pidfd registered with the reactor
//!   (`pidfd_open`, Linux 5.3), or by SIGCHLD where none can be opened
//!   (`wait.rs` has both);
//! * [`Command::output`] reads stdout and stderr concurrently (one wait
//!   on both pipes, `output.rs`), so a child that fills one pipe cannot
//!   deadlock it.
//!
//! Everything works from plain threads too, which park instead. A `Child`
//! dropped without a wait is reaped when it exits (std leaves a zombie).
//!
//! This module must never make a blocking `waitpid` or pipe call on a
//! worker thread.

mod child;
mod output;
mod pidfd;
mod wait;

pub use child::{Child, ChildStderr, ChildStdin, ChildStdout};
pub use std::process::{ExitStatus, Output, Stdio};

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::Path;

/// A process builder, shaped like [`std::process::Command`] (whose
/// options and defaults it has): [`spawn`](Command::spawn) returns a goro
/// [`Child`], and [`output`](Command::output) and
/// [`status`](Command::status) park the caller while the child runs.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// goro::run(|| {
///     let out = goro::process::Command::new("echo").arg("hi").output()?;
///     assert_eq!(out.stdout, b"hi\n");
///     Ok(())
/// })
/// # }
/// ```
pub struct Command {
    std: std::process::Command,
    /// Whether stdin, stdout and stderr were set, for `output`'s defaults.
    stdio_set: [bool; 3],
}

impl Command {
    /// A command that runs `program` (searched in `PATH` when it has no
    /// `/`), with no arguments, the parent's environment and directory,
    /// and, for [`spawn`](Command::spawn) and [`status`](Command::status),
    /// the parent's stdin, stdout and stderr.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// assert!(goro::process::Command::new("true").status()?.success());
    /// # Ok(()) }
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            std: std::process::Command::new(program),
            stdio_set: [false; 3],
        }
    }

    /// Adds one argument.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let out = goro::process::Command::new("echo").arg("a b").output()?;
    /// assert_eq!(out.stdout, b"a b\n");
    /// # Ok(()) }
    /// ```
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds several arguments.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let out = goro::process::Command::new("echo").args(["a", "b"]).output()?;
    /// assert_eq!(out.stdout, b"a b\n");
    /// # Ok(()) }
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable for the child.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let out = goro::process::Command::new("sh")
    ///     .args(["-c", "echo $GREETING"])
    ///     .env("GREETING", "hi")
    ///     .output()?;
    /// assert_eq!(out.stdout, b"hi\n");
    /// # Ok(()) }
    /// ```
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.std.env(key, value);
        self
    }

    /// Sets several environment variables for the child.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let out = goro::process::Command::new("sh")
    ///     .args(["-c", "echo $A$B"])
    ///     .envs([("A", "1"), ("B", "2")])
    ///     .output()?;
    /// assert_eq!(out.stdout, b"12\n");
    /// # Ok(()) }
    /// ```
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let out = goro::process::Command::new("sh")
    ///     .args(["-c", "echo ${HOME-unset}"])
    ///     .env_remove("HOME")
    ///     .output()?;
    /// assert_eq!(out.stdout, b"unset\n");
    /// # Ok(()) }
    /// ```
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts the child with no environment variables but those set after.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let out = goro::process::Command::new("/usr/bin/env").env_clear().output()?;
    /// assert!(out.stdout.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Runs the child in `dir`. A directory that does not exist makes
    /// [`spawn`](Command::spawn) fail with `NotFound` (a file that is not
    /// a directory: `NotADirectory`), naming the directory.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let out = goro::process::Command::new("pwd").current_dir("/").output()?;
    /// assert_eq!(out.stdout, b"/\n");
    /// # Ok(()) }
    /// ```
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// What the child's stdin is: [`Stdio::piped`] makes [`Child::stdin`]
    /// a goroutine-aware pipe.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::process::{Command, Stdio};
    /// let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::null()).spawn()?;
    /// assert!(child.stdin.is_some());
    /// child.wait()?; // closes stdin: cat ends
    /// # Ok(()) }
    /// ```
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdin(cfg);
        self.stdio_set[0] = true;
        self
    }

    /// What the child's stdout is: [`Stdio::piped`] makes [`Child::stdout`]
    /// a goroutine-aware pipe.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::process::{Command, Stdio};
    /// let out = Command::new("echo").arg("quiet").stdout(Stdio::null()).output()?;
    /// assert!(out.stdout.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdout(cfg);
        self.stdio_set[1] = true;
        self
    }

    /// What the child's stderr is: [`Stdio::piped`] makes [`Child::stderr`]
    /// a goroutine-aware pipe.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::process::{Command, Stdio};
    /// let out = Command::new("sh").args(["-c", "echo e >&2"]).stderr(Stdio::null()).output()?;
    /// assert!(out.stderr.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stderr(cfg);
        self.stdio_set[2] = true;
        self
    }

    /// Starts the child. Fails with `NotFound` (naming the program) when
    /// there is no such program, `PermissionDenied` when it cannot be
    /// executed, and `NotFound` naming the directory when
    /// [`current_dir`](Command::current_dir) does not exist.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let mut child = goro::process::Command::new("true").spawn()?;
    /// assert!(child.wait()?.success());
    /// let err = goro::process::Command::new("no-such-program-here").spawn().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// # Ok(()) }
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        let child = self.std.spawn().map_err(|e| self.explain(e))?;
        Child::from_std(child)
    }

    /// Runs the child to its end and collects what it wrote: stdout and
    /// stderr are piped and stdin is null unless set otherwise (std's
    /// defaults). Both pipes are read concurrently.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let out = goro::process::Command::new("sh").args(["-c", "echo x; exit 3"]).output()?;
    /// assert_eq!((out.stdout, out.status.code()), (b"x\n".to_vec(), Some(3)));
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn output(&mut self) -> io::Result<Output> {
        let defaults = [Stdio::null, Stdio::piped, Stdio::piped];
        let unset = self.stdio_set.map(|set| !set);
        self.set_unset_stdio(unset, defaults);
        let child = self.spawn();
        // Back to what spawn and status use when nothing is set.
        self.set_unset_stdio(unset, [Stdio::inherit; 3]);
        child?.wait_with_output()
    }

    /// Runs the child to its end (stdin, stdout and stderr inherited unless
    /// set) and returns its exit status.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let status = goro::process::Command::new("false").status()?;
    /// assert_eq!(status.code(), Some(1));
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait()
    }

    /// Sets the streams marked in `which` without marking them set.
    fn set_unset_stdio(&mut self, which: [bool; 3], to: [fn() -> Stdio; 3]) {
        if which[0] {
            self.std.stdin(to[0]());
        }
        if which[1] {
            self.std.stdout(to[1]());
        }
        if which[2] {
            self.std.stderr(to[2]());
        }
    }

    /// A spawn error that names what was not found: std's errno alone
    /// cannot tell a missing program from a missing `current_dir`.
    fn explain(&self, e: io::Error) -> io::Error {
        if let Some(dir) = self.std.get_current_dir() {
            let dir_err = match std::fs::metadata(dir) {
                Err(dir_err) => Some(dir_err),
                Ok(meta) if !meta.is_dir() => Some(io::ErrorKind::NotADirectory.into()),
                Ok(_) => None,
            };
            if let Some(dir_err) = dir_err {
                let msg = format!("current_dir {}: {dir_err}", dir.display());
                return io::Error::new(dir_err.kind(), msg);
            }
        }
        let program = self.std.get_program().to_string_lossy();
        io::Error::new(e.kind(), format!("cannot run {program:?}: {e}"))
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.std.fmt(f)
    }
}
