//! The bounded event queue behind the pull interface (`ylokh_request_next`).
//!
//! The request's task pushes; a caller's thread pops. When the queue is full the task waits
//! before it reads the socket again, so a slow consumer slows the server down (TCP
//! backpressure) instead of growing memory. The DONE record never waits: it always fits.
//!
//! For an event loop, the queue can keep a [`Notifier`] descriptor in step with it: set on the
//! empty → non-empty edge, cleared when the last event is taken, both under the queue's lock.

use crate::notifier::Notifier;
use crate::outcome::Outcome;
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How many events wait at most before the task stops reading.
pub(crate) const CAPACITY: usize = 256;
/// How many bytes of text wait at most (one event of any size always fits in an empty queue):
/// large events do not multiply by the count.
pub(crate) const CAPACITY_BYTES: usize = 4 << 20;
/// The largest buffer kept for reuse; larger ones are freed when the consumer is done.
const SPARE_MAX: usize = 16 << 10;

pub enum PullEvent {
    /// Text with a NUL after it (the NUL is not part of the text).
    Token(Vec<u8>),
    Reasoning(Vec<u8>),
    Chunk(Vec<u8>),
    /// A complete tool call as JSON (`ToolCall::to_event_json`).
    ToolCall(Vec<u8>),
    Done(Box<Outcome>),
}

impl PullEvent {
    /// The bytes its text counts for in the queue (with its NUL); 0 for DONE.
    fn bytes(&self) -> usize {
        match self {
            PullEvent::Token(b)
            | PullEvent::Reasoning(b)
            | PullEvent::Chunk(b)
            | PullEvent::ToolCall(b) => b.len(),
            PullEvent::Done(_) => 0,
        }
    }

    /// The text's buffer, to be recycled.
    pub fn into_buffer(self) -> Option<Vec<u8>> {
        match self {
            PullEvent::Token(b)
            | PullEvent::Reasoning(b)
            | PullEvent::Chunk(b)
            | PullEvent::ToolCall(b) => Some(b),
            PullEvent::Done(_) => None,
        }
    }
}

/// Which kind of text event `push_text` queues.
#[derive(Clone, Copy)]
pub enum TextKind {
    Token,
    Reasoning,
    Chunk,
    ToolCall,
}

#[derive(Default)]
struct Inner {
    events: VecDeque<PullEvent>,
    /// Buffers of events the consumer is done with: once there are enough of them, queuing an
    /// event allocates nothing.
    spare: Vec<Vec<u8>>,
    /// The bytes of the queued texts.
    bytes: usize,
    /// The producer waits for room.
    waiting: bool,
    /// The event loop's descriptor, made on first demand: readable exactly while `events` is
    /// not empty.
    notifier: Option<Notifier>,
}

impl Inner {
    /// Queues an event; the notifier hears of the empty → non-empty edge only.
    fn push(&mut self, event: PullEvent) {
        self.events.push_back(event);
        if self.events.len() == 1 {
            if let Some(notifier) = &self.notifier {
                notifier.set();
            }
        }
    }

    /// Takes the next event; the notifier is cleared with the last one.
    fn pop(&mut self) -> Option<PullEvent> {
        let event = self.events.pop_front()?;
        if self.events.is_empty() {
            if let Some(notifier) = &self.notifier {
                notifier.clear();
            }
        }
        Some(event)
    }
}

pub struct PullQueue {
    inner: Mutex<Inner>,
    ready: Condvar,
    space: Notify,
    pub chunks: bool,
}

impl PullQueue {
    pub fn new(chunks: bool) -> Self {
        PullQueue {
            inner: Mutex::new(Inner {
                events: VecDeque::with_capacity(16),
                spare: Vec::new(),
                bytes: 0,
                waiting: false,
                notifier: None,
            }),
            ready: Condvar::new(),
            space: Notify::new(),
            chunks,
        }
    }

    /// Queues a copy of `text` (with a NUL after it), waiting while the queue is full.
    pub async fn push_text(&self, kind: TextKind, text: &[u8]) {
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            // Registered before the check, so a pop between the check and the wait is not lost.
            notified.as_mut().enable();
            {
                let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
                let room = inner.events.is_empty() || inner.bytes + text.len() <= CAPACITY_BYTES;
                if inner.events.len() < CAPACITY && room {
                    inner.bytes += text.len() + 1;
                    let mut buffer = inner.spare.pop().unwrap_or_default();
                    buffer.clear();
                    buffer.extend_from_slice(text);
                    buffer.push(0);
                    inner.push(match kind {
                        TextKind::Token => PullEvent::Token(buffer),
                        TextKind::Reasoning => PullEvent::Reasoning(buffer),
                        TextKind::Chunk => PullEvent::Chunk(buffer),
                        TextKind::ToolCall => PullEvent::ToolCall(buffer),
                    });
                    // The consumer sleeps only on an empty queue.
                    if inner.events.len() == 1 {
                        self.ready.notify_one();
                    }
                    return;
                }
                inner.waiting = true;
            }
            notified.await;
        }
    }

    /// Queues the last event; it never waits.
    pub fn push_done(&self, outcome: Outcome) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.push(PullEvent::Done(Box::new(outcome)));
        self.ready.notify_one();
    }

    /// The next event, waiting up to `timeout` (`None`: no limit).
    pub fn pop(&self, timeout: Option<Duration>) -> Option<PullEvent> {
        let (event, was_full) =
            crate::wait::wait_for(&self.inner, &self.ready, timeout, |inner| {
                let event = inner.pop()?;
                inner.bytes -= event.bytes();
                Some((event, std::mem::take(&mut inner.waiting)))
            })?;
        // Woken only when it waits for room.
        if was_full {
            self.space.notify_one();
        }
        Some(event)
    }

    /// The descriptor that is readable exactly while an event waits (made on the first call,
    /// closed with the queue); an error when the system has no descriptor to give.
    pub fn fd(&self) -> std::io::Result<std::os::fd::RawFd> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(notifier) = &inner.notifier {
            return Ok(notifier.fd());
        }
        let notifier = Notifier::new()?;
        if !inner.events.is_empty() {
            notifier.set();
        }
        let fd = notifier.fd();
        inner.notifier = Some(notifier);
        Ok(fd)
    }

    /// The consumer is gone: its descriptor is closed now, as the contract says of the free,
    /// not when the producer (a runtime task, slower on a loaded machine) lets go of the queue.
    /// An event loop that forgot to stop watching it can then not hear from a freed request.
    pub fn close_fd(&self) {
        let notifier = self
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .notifier
            .take();
        drop(notifier);
    }

    /// Gives back the buffer of an event the consumer is done with.
    pub fn recycle(&self, event: PullEvent) {
        if let Some(buffer) = event.into_buffer() {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if inner.spare.len() < CAPACITY && buffer.capacity() <= SPARE_MAX {
                inner.spare.push(buffer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl PullQueue {
        fn len(&self) -> usize {
            self.inner
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .events
                .len()
        }

        fn spare(&self) -> usize {
            self.inner
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .spare
                .len()
        }
    }

    #[test]
    fn close_fd_closes_the_descriptor_while_the_producer_still_holds_the_queue() {
        let queue = std::sync::Arc::new(PullQueue::new(false));
        let producer = queue.clone();
        queue.fd().unwrap();
        assert!(queue.inner.lock().unwrap().notifier.is_some());
        queue.close_fd();
        assert!(queue.inner.lock().unwrap().notifier.is_none());
        // The producer goes on without a descriptor to write to.
        producer.push_done(Outcome::ok());
        assert!(matches!(
            queue.pop(Some(Duration::ZERO)),
            Some(PullEvent::Done(_))
        ));
    }

    #[test]
    fn a_full_queue_makes_the_producer_wait_until_the_consumer_pops() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let queue = std::sync::Arc::new(PullQueue::new(false));
        let producer = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                runtime.block_on(async {
                    for i in 0..CAPACITY + 10 {
                        queue.push_text(TextKind::Token, &[i as u8]).await;
                    }
                })
            })
        };
        // The producer fills the queue, then waits: the length stays at the capacity.
        while queue.len() < CAPACITY {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(queue.len(), CAPACITY);
        for i in 0..CAPACITY + 10 {
            match queue.pop(None) {
                Some(PullEvent::Token(t)) => assert_eq!(t, vec![i as u8, 0]),
                _ => panic!("expected token {i}"),
            }
        }
        producer.join().unwrap();
        assert!(queue.pop(Some(Duration::from_millis(10))).is_none());
    }

    #[test]
    fn buffers_are_recycled_so_a_long_stream_stops_allocating() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let queue = PullQueue::new(false);
        let mut addresses = std::collections::HashSet::new();
        for round in 0..1000 {
            runtime.block_on(queue.push_text(TextKind::Token, b"word"));
            let event = queue.pop(None).unwrap();
            if let PullEvent::Token(t) = &event {
                assert_eq!(t, b"word\0");
                addresses.insert(t.as_ptr() as usize);
            }
            queue.recycle(event);
            assert_eq!(queue.spare(), 1, "round {round}");
        }
        assert_eq!(addresses.len(), 1, "one buffer served every event");
    }

    fn readable(fd: std::os::fd::RawFd, wait_ms: i32) -> bool {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, wait_ms) };
        n == 1 && p.revents & libc::POLLIN != 0
    }

    #[test]
    fn the_descriptor_is_readable_exactly_while_an_event_waits() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let queue = PullQueue::new(false);
        runtime.block_on(queue.push_text(TextKind::Token, b"a"));
        // Made after the first event: it starts readable.
        let fd = queue.fd().unwrap();
        assert_eq!(queue.fd().unwrap(), fd, "one descriptor per queue");
        assert!(readable(fd, 0));
        runtime.block_on(queue.push_text(TextKind::Token, b"b"));
        assert!(queue.pop(Some(Duration::ZERO)).is_some());
        assert!(readable(fd, 0), "one event still waits");
        assert!(queue.pop(Some(Duration::ZERO)).is_some());
        assert!(!readable(fd, 0), "the queue is empty");
        queue.push_done(Outcome::ok());
        assert!(readable(fd, 0), "DONE waits");
        assert!(matches!(
            queue.pop(Some(Duration::ZERO)),
            Some(PullEvent::Done(_))
        ));
        assert!(!readable(fd, 0), "DONE was handed out");
    }

    #[test]
    fn a_consumer_sleeping_on_the_descriptor_never_misses_an_event() {
        // The producer races the consumer on every edge; the consumer sleeps in poll() only,
        // and every time it wakes there is an event (no spurious readiness), and it never
        // sleeps through one (no lost edge: the poll would time out).
        let queue = std::sync::Arc::new(PullQueue::new(false));
        let fd = queue.fd().unwrap();
        const N: usize = 20_000;
        let producer = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                for i in 0..N {
                    runtime.block_on(queue.push_text(TextKind::Token, &i.to_le_bytes()));
                    if i % 7 == 0 {
                        std::thread::yield_now();
                    }
                }
                queue.push_done(Outcome::ok());
            })
        };
        let mut seen: usize = 0;
        loop {
            assert!(
                readable(fd, 10_000),
                "woke up for event {seen}? no: an edge was lost"
            );
            let event = queue
                .pop(Some(Duration::ZERO))
                .expect("readable, so an event waits");
            if let PullEvent::Done(_) = event {
                break;
            }
            if let PullEvent::Token(t) = &event {
                assert_eq!(t[..8], seen.to_le_bytes());
            }
            seen += 1;
            queue.recycle(event);
        }
        assert_eq!(seen, N);
        assert!(!readable(fd, 0));
        producer.join().unwrap();
    }
}
