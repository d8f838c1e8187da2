//! Starting an MCP server as a child process: its own process group (so a server started
//! through `npx` or a shell goes down with all its children), killed when its session ends
//! (kill-on-drop, and on Linux the kernel kills it when the runtime thread that started it
//! ends: PR_SET_PDEATHSIG, so a caller that exits without freeing leaves no orphan), and its
//! stderr read line by line into the log.

use crate::error::Error;
use crate::log::{log, INFO};
use crate::status::Status;
use process_wrap::tokio::{CommandWrap, KillOnDrop, ProcessGroup};
use rmcp::transport::TokioChildProcess;
use std::process::Stdio;
use tokio::io::AsyncReadExt;

/// A log record's longest stderr line; the rest of a longer line is cut.
const MAX_LINE: usize = 2000;

/// What a stdio session starts.
pub struct Command<'a> {
    pub argv: &'a [String],
    /// Set in the server's environment (on top of the caller's own).
    pub env: &'a [(String, String)],
}

/// Starts the server. Runs on a runtime worker thread (the parent-death signal is tied to the
/// thread that forks: a worker lives as long as the client's runtime).
pub fn spawn(name: &str, command: &Command<'_>) -> Result<(TokioChildProcess, i32), Error> {
    let Some((program, args)) = command.argv.split_first() else {
        return Err(Error::invalid(
            "argv is empty: give the server's program and its arguments",
        ));
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    for (k, v) in command.env {
        cmd.env(k, v);
    }
    #[cfg(target_os = "linux")]
    {
        let parent = std::process::id();
        // SAFETY: the closure runs in the forked child before exec and calls only
        // async-signal-safe functions (prctl, getppid, _exit).
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent died between fork and prctl: do not run as an orphan.
                if libc::getppid() as u32 != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
    let mut wrap = CommandWrap::from(cmd);
    wrap.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
    let (process, stderr) = TokioChildProcess::builder(wrap)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::new(
                Status::Connect,
                format!("could not start the MCP server {program:?}: {e} (is it installed and on PATH?)"),
            )
        })?;
    let pid = process.id().map_or(0, |p| p as i32);
    if let Some(mut stderr) = stderr {
        let name = name.to_owned();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut line: Vec<u8> = Vec::new();
            let mut cut = false;
            loop {
                let n = match stderr.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                for &b in &buf[..n] {
                    if b == b'\n' {
                        log!(
                            INFO,
                            "MCP server {name} (stderr): {}{}",
                            String::from_utf8_lossy(&line),
                            if cut { " [cut]" } else { "" }
                        );
                        line.clear();
                        cut = false;
                    } else if line.len() < MAX_LINE {
                        line.push(b);
                    } else {
                        cut = true;
                    }
                }
            }
            if !line.is_empty() {
                log!(
                    INFO,
                    "MCP server {name} (stderr): {}",
                    String::from_utf8_lossy(&line)
                );
            }
        });
    }
    Ok((process, pid))
}

/// Whether any process of the group `pgid` is still there (not yet reaped).
pub fn group_alive(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks that the group exists.
    pgid > 0 && unsafe { libc::kill(-pgid, 0) } == 0
}
