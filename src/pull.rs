//! The bounded event queue behind the pull interface (`ylokh_request_next`).
//!
//! The request's task pushes; a caller's thread pops. When the queue is full the task waits
//! before it reads the socket again, so a slow consumer slows the server down (TCP
//! backpressure) instead of growing memory. The DONE record never waits: it always fits.

use crate::request::Outcome;
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How many events wait at most before the task stops reading.
pub(crate) const CAPACITY: usize = 256;

pub enum PullEvent {
    /// Text with a NUL after it (the NUL is not part of the text).
    Token(Vec<u8>),
    Reasoning(Vec<u8>),
    Chunk(Vec<u8>),
    Done(Box<Outcome>),
}

pub struct PullQueue {
    events: Mutex<VecDeque<PullEvent>>,
    ready: Condvar,
    space: Notify,
    pub chunks: bool,
}

impl PullQueue {
    pub fn new(chunks: bool) -> Self {
        PullQueue {
            events: Mutex::new(VecDeque::with_capacity(16)),
            ready: Condvar::new(),
            space: Notify::new(),
            chunks,
        }
    }

    /// Queues an event, waiting while the queue is full.
    pub async fn push(&self, event: PullEvent) {
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            // Registered before the check, so a pop between the check and the wait is not lost.
            notified.as_mut().enable();
            {
                let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
                if events.len() < CAPACITY {
                    events.push_back(event);
                    self.ready.notify_one();
                    return;
                }
            }
            notified.await;
        }
    }

    /// Queues the last event; it never waits.
    pub fn push_done(&self, outcome: Outcome) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events.push_back(PullEvent::Done(Box::new(outcome)));
        self.ready.notify_one();
    }

    /// The next event, waiting up to `timeout` (`None`: no limit).
    pub fn pop(&self, timeout: Option<Duration>) -> Option<PullEvent> {
        let event = crate::wait::wait_for(&self.events, &self.ready, timeout, VecDeque::pop_front)?;
        self.space.notify_one();
        Some(event)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                        queue.push(PullEvent::Token(vec![i as u8])).await;
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
                Some(PullEvent::Token(t)) => assert_eq!(t, vec![i as u8]),
                _ => panic!("expected token {i}"),
            }
        }
        producer.join().unwrap();
        assert!(queue.pop(Some(Duration::from_millis(10))).is_none());
    }
}
