//! A running child process ([`Child`]) and its goroutine-aware pipes
//! ([`ChildStdin`], [`ChildStdout`], [`ChildStderr`]).
//!
//! The pipes are std's, made non-blocking on goro's side only (the child's
//! ends are other open file descriptions, so the child still sees blocking
//! pipes) and registered with the reactor through [`Pollable`]: a read or
//! write that would block parks the goroutine, or the plain thread.
//!
//! A `Child` dropped before its exit was seen is reaped by a small
//! goroutine ("goro-reaper") that waits for it: std leaves such a child a
//! zombie until the parent exits; goro leaves none. It is neither killed
//! nor waited for by the drop itself, as with std.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::process::{ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use super::wait::Process;
use crate::io::Pollable;

/// A child process started by [`Command::spawn`](super::Command::spawn),
/// shaped like [`std::process::Child`]: its pipes are the public fields,
/// and [`wait`](Child::wait), [`try_wait`](Child::try_wait),
/// [`wait_timeout`](Child::wait_timeout) and [`kill`](Child::kill) work
/// from goroutines and plain threads. Waiting parks the caller until the
/// child exits (on its pidfd, or SIGCHLD where pidfds are unavailable); it
/// never blocks a worker thread.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use goro::process::{Command, Stdio};
/// use std::io::{Read, Write};
/// let mut child = Command::new("cat")
///     .stdin(Stdio::piped())
///     .stdout(Stdio::piped())
///     .spawn()?;
/// child.stdin.take().unwrap().write_all(b"hello")?; // dropped: EOF
/// let mut echoed = String::new();
/// child.stdout.take().unwrap().read_to_string(&mut echoed)?;
/// assert_eq!(echoed, "hello");
/// assert!(child.wait()?.success());
/// # Ok(()) }
/// ```
pub struct Child {
    /// The child's stdin, when it was [`Stdio::piped`](super::Stdio::piped).
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, when it was [`Stdio::piped`](super::Stdio::piped).
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, when it was [`Stdio::piped`](super::Stdio::piped).
    pub stderr: Option<ChildStderr>,
    /// Always `Some` until the drop hands it to a reaper.
    process: Option<Process>,
}

impl Child {
    /// Takes over a child spawned by `std::process::Command` (one that
    /// needs std's `CommandExt` options, say `pre_exec` or `uid`): its
    /// pipes become goroutine-aware and its exit is watched by goro.
    ///
    /// Fails only if a pipe cannot be registered with the reactor; the
    /// child is then killed and reaped, and nothing is left open.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let std_child = std::process::Command::new("true").spawn()?;
    /// let mut child = goro::process::Child::from_std(std_child)?;
    /// assert!(child.wait()?.success());
    /// # Ok(()) }
    /// ```
    pub fn from_std(mut child: std::process::Child) -> io::Result<Child> {
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let mut process = Process::new(child);
        let pipes = (|| {
            Ok((
                stdin.map(Pollable::new).transpose()?.map(ChildStdin),
                stdout.map(Pollable::new).transpose()?.map(ChildStdout),
                stderr.map(Pollable::new).transpose()?.map(ChildStderr),
            ))
        })();
        match pipes {
            Ok((stdin, stdout, stderr)) => Ok(Child {
                stdin,
                stdout,
                stderr,
                process: Some(process),
            }),
            Err(e) => {
                let _ = process.kill();
                let _ = process.wait_until(None);
                Err(e)
            }
        }
    }

    fn process(&mut self) -> &mut Process {
        self.process
            .as_mut()
            .expect("goro: a Child's process is only taken by its drop")
    }

    /// The child's process id.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let mut child = goro::process::Command::new("true").spawn()?;
    /// assert!(child.id() > 0);
    /// child.wait()?;
    /// # Ok(()) }
    /// ```
    pub fn id(&self) -> u32 {
        self.process
            .as_ref()
            .expect("goro: a Child's process is only taken by its drop")
            .id()
    }

    /// Waits for the child to exit and returns its status, parking the
    /// caller (goroutine or thread) meanwhile. Closes the child's stdin
    /// first, as std does, so a child reading it to the end can finish.
    /// Once the child has been reaped, every later call returns the same
    /// status.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let mut child = goro::process::Command::new("sh").args(["-c", "exit 3"]).spawn()?;
    /// assert_eq!(child.wait()?.code(), Some(3));
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        let status = self.process().wait_until(None)?;
        Ok(status.expect("goro: a wait without a deadline ended without a status"))
    }

    /// The child's status if it has exited (and reaps it), `None` if it is
    /// still running. Never parks.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let mut child = goro::process::Command::new("sleep").arg("10").spawn()?;
    /// assert!(child.try_wait()?.is_none());
    /// child.kill()?;
    /// child.wait()?;
    /// assert!(child.try_wait()?.is_some());
    /// # Ok(()) }
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.process().try_wait()
    }

    /// Waits at most `timeout` for the child to exit: its status, or
    /// `None` if it is still running then. Unlike [`wait`](Child::wait),
    /// leaves stdin open (the caller may still write to it after a
    /// timeout).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let mut child = goro::process::Command::new("sleep").arg("0.1").spawn()?;
    /// assert!(child.wait_timeout(Duration::from_millis(1))?.is_none());
    /// let status = child.wait_timeout(Duration::from_secs(10))?;
    /// assert!(status.unwrap().success());
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        // A timeout too large for the clock waits forever.
        let deadline = Instant::now().checked_add(timeout);
        self.process().wait_until(deadline)
    }

    /// Sends the child SIGKILL. After the child has been reaped it does
    /// nothing and returns `Ok(())` (std's rule); the status a later wait
    /// returns names the signal.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::os::unix::process::ExitStatusExt;
    /// let mut child = goro::process::Command::new("sleep").arg("10").spawn()?;
    /// child.kill()?;
    /// assert_eq!(child.wait()?.signal(), Some(9));
    /// # Ok(()) }
    /// ```
    pub fn kill(&mut self) -> io::Result<()> {
        self.process().kill()
    }

    /// Closes stdin, reads stdout and stderr to their ends concurrently (a
    /// child that fills one pipe while goro reads the other cannot stall),
    /// then waits: std's `wait_with_output`. Only piped streams are
    /// captured; the others come back empty.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::process::{Command, Stdio};
    /// let child = Command::new("sh")
    ///     .args(["-c", "echo out; echo err >&2"])
    ///     .stdout(Stdio::piped())
    ///     .stderr(Stdio::piped())
    ///     .spawn()?;
    /// let out = child.wait_with_output()?;
    /// assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"out\n"[..], &b"err\n"[..]));
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = match (self.stdout.take(), self.stderr.take()) {
            (Some(mut out), Some(mut err)) => super::output::read_both(&mut out, &mut err)?,
            (Some(mut out), None) => (read_all(&mut out)?, Vec::new()),
            (None, Some(mut err)) => (Vec::new(), read_all(&mut err)?),
            (None, None) => (Vec::new(), Vec::new()),
        };
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

#[track_caller]
fn read_all(pipe: &mut impl Read) -> io::Result<Vec<u8>> {
    // Not `read_to_end`: std's default method would show its own line as
    // the place of the wait in `dump()`, not the caller's.
    let mut buf = Vec::new();
    let mut chunk = [0; 8192];
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) => return Ok(buf),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // Close the pipes first: a child waiting for EOF may then exit.
        drop((self.stdin.take(), self.stdout.take(), self.stderr.take()));
        let Some(mut process) = self.process.take() else {
            return;
        };
        if !matches!(process.try_wait(), Ok(None)) {
            return; // reaped (now or before), or not ours to reap
        }
        let reaper = crate::Builder::new()
            .name("goro-reaper".to_string())
            .spawn(move || {
                let _ = process.wait_until(None);
            });
        // Without a goroutine the child stays a zombie, as with std.
        drop(reaper);
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("process", &self.process)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish()
    }
}

/// The child's stdin: [`Write`] parks the caller while the pipe is full.
/// Dropping it closes the pipe (the child reads EOF).
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use goro::process::{Command, Stdio};
/// use std::io::Write;
/// let mut child = Command::new("wc").arg("-c").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
/// let mut stdin: goro::process::ChildStdin = child.stdin.take().unwrap();
/// stdin.write_all(b"12345")?;
/// drop(stdin); // EOF: wc counts and exits
/// let out = child.wait_with_output()?;
/// assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "5");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ChildStdin(Pollable<std::process::ChildStdin>);

/// The child's stdout: [`Read`] parks the caller until output arrives, and
/// returns 0 once the child closed it (usually: exited).
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use goro::process::{Command, Stdio};
/// use std::io::{BufRead, BufReader};
/// let mut child = Command::new("printf").arg("a\\nb\\n").stdout(Stdio::piped()).spawn()?;
/// let stdout: goro::process::ChildStdout = child.stdout.take().unwrap();
/// let lines: Vec<String> = BufReader::new(stdout).lines().collect::<Result<_, _>>()?;
/// assert_eq!(lines, ["a", "b"]);
/// assert!(child.wait()?.success());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ChildStdout(Pollable<std::process::ChildStdout>);

/// The child's stderr, read like [`ChildStdout`].
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use goro::process::{Command, Stdio};
/// use std::io::Read;
/// let mut child = Command::new("sh").args(["-c", "echo oops >&2; exit 3"]).stderr(Stdio::piped()).spawn()?;
/// let mut err = String::new();
/// let mut stderr: goro::process::ChildStderr = child.stderr.take().unwrap();
/// stderr.read_to_string(&mut err)?;
/// assert_eq!(err, "oops\n");
/// assert_eq!(child.wait()?.code(), Some(3));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ChildStderr(Pollable<std::process::ChildStderr>);

impl Write for ChildStdin {
    #[track_caller]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for ChildStdout {
    #[track_caller]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.0).read(buf)
    }
}

impl Read for ChildStderr {
    #[track_caller]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.0).read(buf)
    }
}

macro_rules! fd_access {
    ($($pipe:ty),*) => {$(
        impl AsFd for $pipe {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.0.as_fd()
            }
        }

        impl AsRawFd for $pipe {
            fn as_raw_fd(&self) -> RawFd {
                self.0.as_raw_fd()
            }
        }
    )*};
}

fd_access!(ChildStdin, ChildStdout, ChildStderr);

/// The pipe's fd, handed on to another child (std's `From<ChildStdout>
/// for Stdio`, for pipelines): a duplicate, put back in blocking mode,
/// since the child that gets it expects blocking reads and writes; the
/// registered original is closed.
fn into_stdio(fd: BorrowedFd<'_>) -> Stdio {
    let result = fd.try_clone_to_owned().and_then(|dup| {
        set_blocking(dup.as_raw_fd())?;
        Ok(dup)
    });
    match result {
        Ok(dup) => Stdio::from(dup),
        // No fd left to duplicate (EMFILE): the child gets /dev/null
        // instead, as if the stream had been closed already.
        Err(_) => Stdio::null(),
    }
}

/// Clears `O_NONBLOCK` on `fd`'s open file description.
fn set_blocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl with F_GETFL/F_SETFL only reads and writes the file
    // status flags of `fd`, which the caller owns; it touches no memory
    // of ours.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

macro_rules! pipe_to_stdio {
    ($($pipe:ty),*) => {$(
        impl From<$pipe> for Stdio {
            /// Hands the pipe to another child, as std's conversion does.
            /// The fd is duplicated (goro's registration cannot hand the
            /// original back); in a process out of fds (`EMFILE`) the
            /// child gets `/dev/null` instead, as if the pipe were closed.
            ///
            ///
            /// ```
            /// # fn main() -> std::io::Result<()> {
            /// use goro::process::{Command, Stdio};
            /// let mut echo = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
            /// let upper = Command::new("tr").args(["a-z", "A-Z"])
            ///     .stdin(echo.stdout.take().unwrap())
            ///     .output()?;
            /// assert_eq!(upper.stdout, b"HI\n");
            /// echo.wait()?;
            /// # Ok(()) }
            /// ```
            fn from(pipe: $pipe) -> Stdio {
                into_stdio(pipe.as_fd())
            }
        }
    )*};
}

pipe_to_stdio!(ChildStdin, ChildStdout, ChildStderr);
