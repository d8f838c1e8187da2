//! The kept-alive connections of the direct HTTP/1.1 path (`http1.rs`), all to one origin:
//! a connection comes back only after a response was read to its end, and one idle for longer
//! than [`IDLE`], or that the server has closed, is dropped instead of reused.

use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// How long a connection may wait idle for its next request (as the reqwest client's pool).
const IDLE: Duration = Duration::from_secs(60);
/// The most idle connections kept.
const MAX_IDLE: usize = 256;

#[derive(Default)]
pub struct Pool {
    idle: Mutex<Vec<(TcpStream, Instant)>>,
}

impl Pool {
    /// An idle connection that still looks open, newest first.
    pub(super) fn take(&self) -> Option<TcpStream> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((stream, since)) = idle.pop() {
            if since.elapsed() >= IDLE {
                continue;
            }
            // Nothing may be waiting to be read on an idle connection: bytes (or the end of
            // the stream) mean the server has answered something else or closed it.
            match stream.try_read(&mut [0u8; 1]) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Some(stream),
                _ => continue,
            }
        }
        None
    }

    /// Keeps `stream` for the next request.
    pub(super) fn put(&self, stream: TcpStream) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(|(_, since)| since.elapsed() < IDLE);
        if idle.len() < MAX_IDLE {
            idle.push((stream, Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_the_server_closed_is_not_reused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let pool = Pool::default();
        let client = TcpStream::connect(address).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        pool.put(client);
        assert!(pool.take().is_some(), "an open idle connection is reused");
        assert!(pool.take().is_none(), "taken once");

        let client = TcpStream::connect(address).await.unwrap();
        drop(server);
        let (server, _) = listener.accept().await.unwrap();
        drop(server);
        client.readable().await.unwrap();
        pool.put(client);
        assert!(pool.take().is_none(), "a closed connection is dropped");
    }
}
