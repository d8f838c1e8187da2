//! A descriptor that an event loop can wait on: readable while it is set, not after it is
//! cleared (level-triggered). Linux: one eventfd; elsewhere a non-blocking pipe.
//!
//! The pull queue sets it on its empty → non-empty edge and clears it when the consumer takes
//! the last event, both under the queue's lock, so the descriptor's state always matches the
//! queue's. Closed when dropped.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub struct Notifier {
    /// The end the event loop watches (for an eventfd, the only one).
    read: OwnedFd,
    /// The pipe's write end; `None` for an eventfd.
    write: Option<OwnedFd>,
}

fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

impl Notifier {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn new() -> io::Result<Notifier> {
        // SAFETY: eventfd takes no pointers; the result is checked.
        let fd = check(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        Ok(Notifier {
            // SAFETY: a fresh descriptor that nothing else owns.
            read: unsafe { OwnedFd::from_raw_fd(fd) },
            write: None,
        })
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub fn new() -> io::Result<Notifier> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe writes; the result is checked.
        check(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
        // SAFETY: fresh descriptors that nothing else owns.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        for fd in [read.as_raw_fd(), write.as_raw_fd()] {
            // SAFETY: fcntl on descriptors we own, without pointers; results checked.
            unsafe {
                let flags = check(libc::fcntl(fd, libc::F_GETFL))?;
                check(libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK))?;
                check(libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC))?;
            }
        }
        Ok(Notifier {
            read,
            write: Some(write),
        })
    }

    /// The descriptor to watch for readability.
    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Makes the descriptor readable. Call it only while it is clear (the queue's edge): it
    /// writes one 8-byte count (eventfd) or one byte (pipe), which never fills either.
    pub fn set(&self) {
        let one: u64 = 1;
        let (fd, len) = match &self.write {
            None => (self.read.as_raw_fd(), 8),
            Some(write) => (write.as_raw_fd(), 1),
        };
        loop {
            // SAFETY: writes `len` (at most 8) bytes from a live u64 to a descriptor we own.
            let n = unsafe { libc::write(fd, (&one as *const u64).cast(), len) };
            if n >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                // EAGAIN cannot happen while the descriptor is clear; any other failure leaves
                // the consumer to its timeout, which is all that is left to do.
                return;
            }
        }
    }

    /// Makes the descriptor not readable: reads until it would block.
    pub fn clear(&self) {
        let mut buffer = [0u8; 64];
        loop {
            // SAFETY: reads at most 64 bytes into a live buffer of that size, from our descriptor.
            let n = unsafe {
                libc::read(
                    self.read.as_raw_fd(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                )
            };
            if n > 0 && self.write.is_some() {
                continue;
            }
            if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(fd: RawFd) -> bool {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no waiting.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        n == 1 && p.revents & libc::POLLIN != 0
    }

    #[test]
    fn set_makes_it_readable_and_clear_undoes_it() {
        let n = Notifier::new().unwrap();
        assert!(!readable(n.fd()));
        n.set();
        assert!(readable(n.fd()));
        assert!(readable(n.fd()), "level-triggered: still readable");
        n.clear();
        assert!(!readable(n.fd()));
        n.clear();
        assert!(!readable(n.fd()), "clearing a clear descriptor is harmless");
        n.set();
        assert!(readable(n.fd()));
    }
}
