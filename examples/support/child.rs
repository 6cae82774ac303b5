//! A server in a child process: the running binary re-executed with a role
//! in its environment (each report section decides the role and its
//! settings), which prints the address it listens on as its first line.
//! Killed on drop. Used by the claims, sched and scale sections' echo
//! servers.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// The child and the address it announced.
pub struct ChildServer {
    child: Child,
    pub addr: SocketAddr,
}

impl ChildServer {
    /// Starts `cmd` (its environment already set) and reads its address.
    pub fn spawn(mut cmd: Command) -> ChildServer {
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the server process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("the server's address");
        let addr = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the server printed {line:?}, not its address"));
        ChildServer { child, addr }
    }

    /// A command that re-executes this binary.
    pub fn this_binary() -> Command {
        Command::new(std::env::current_exe().expect("current_exe"))
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
