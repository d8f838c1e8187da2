//! The read timeout: a watchdog on the server's silences.
//!
//! One timer serves a whole response. A read that is ready at once touches no timer; one that
//! waits starts its silence then, and the timer, set when it first fires, moves forward only
//! when it goes off early. So the timer wheel is touched at most about once per timeout
//! period, not once per read: no lock per token.
//!
//! With [`Silence::watch`], what counts is the answer moving, not bytes: a silence runs from
//! the first wait after the answer last moved and goes on through reads that bring nothing
//! (pings, comments, empty events), so a server that only pings still times out. The caller
//! says whether the answer moved with a flag it sets per token (no clock read per token);
//! the clock is read only on waits, and on ready reads while nothing moves.

use crate::error::Error;
use crate::status::Status;
use futures_util::FutureExt;
use std::future::Future;
use std::pin::{pin, Pin};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

pub struct Silence {
    limit: Option<Duration>,
    timer: Option<Pin<Box<Sleep>>>,
    /// When the current silence started: the first wait since the answer last moved.
    since: Option<Instant>,
}

impl Silence {
    /// `None`: no limit.
    pub fn new(limit: Option<Duration>) -> Self {
        Silence {
            limit,
            timer: None,
            since: None,
        }
    }

    /// Awaits `future`, failing with `Status::Timeout` when it waits longer than the limit.
    pub async fn guard<T>(
        &mut self,
        doing: &str,
        future: impl Future<Output = T>,
    ) -> Result<T, Error> {
        self.watch(true, doing, future).await
    }

    /// Awaits `future`, failing with `Status::Timeout` when the answer has not moved for longer
    /// than the limit. `moved`: whether it moved since the last call (a read that brought only
    /// pings does not end a silence).
    pub async fn watch<T>(
        &mut self,
        moved: bool,
        doing: &str,
        future: impl Future<Output = T>,
    ) -> Result<T, Error> {
        let Some(limit) = self.limit else {
            return Ok(future.await);
        };
        let mut future = pin!(future);
        if let Some(ready) = future.as_mut().now_or_never() {
            return self.ready(moved, doing).map(|()| ready);
        }
        if moved {
            self.since = None;
        }
        let deadline = *self.since.get_or_insert_with(Instant::now) + limit;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        loop {
            tokio::select! {
                biased;
                ready = future.as_mut() => return Ok(ready),
                () = timer.as_mut() => {
                    if Instant::now() >= deadline {
                        return Err(timed_out(limit, doing));
                    }
                    // Set for an earlier silence: move it to this one's end.
                    timer.as_mut().reset(deadline);
                }
            }
        }
    }

    /// What [`Silence::watch`] does for a future that is ready at once, for a read that needs
    /// no future (the direct path's body already in its buffer): the clock is read only while
    /// a silence runs.
    pub fn ready(&mut self, moved: bool, doing: &str) -> Result<(), Error> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        if moved {
            self.since = None;
        }
        // Bytes that come at once and move nothing (a flood of pings) do not stop the clock.
        if self
            .since
            .is_some_and(|since| Instant::now() >= since + limit)
        {
            return Err(timed_out(limit, doing));
        }
        Ok(())
    }
}

/// The read timeout's failure.
fn timed_out(limit: Duration, doing: &str) -> Error {
    Error::new(
        Status::Timeout,
        format!(
            "the server sent nothing that moves the answer for {} ms while {doing}; pings, comments and empty events do not count (read timeout); raise it with ylokh_options_set_read_timeout_ms (0: no limit)",
            limit.as_millis()
        ),
    )
}

/// The first-token timeout: awaits `future` until `deadline` (`limit` after the request was
/// sent), failing with `Status::Timeout` and a message that names this timeout.
pub async fn until_first_token<T>(
    deadline: Instant,
    limit: Duration,
    future: impl Future<Output = T>,
) -> Result<T, Error> {
    tokio::time::timeout_at(deadline, future).await.map_err(|_| {
        Error::new(
            Status::Timeout,
            format!(
                "no token arrived within {} ms of sending the request (first-token timeout); raise it with ylokh_options_set_first_token_timeout_ms (0: no limit)",
                limit.as_millis()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_silence_longer_than_the_limit_times_out_and_shorter_ones_do_not() {
        let mut silence = Silence::new(Some(Duration::from_millis(100)));
        // Many short waits, longer than the limit together: no timeout.
        for _ in 0..10 {
            let r = silence
                .guard("reading", tokio::time::sleep(Duration::from_millis(60)))
                .await;
            assert!(r.is_ok());
        }
        let e = silence
            .guard("reading", tokio::time::sleep(Duration::from_millis(150)))
            .await
            .unwrap_err();
        assert_eq!(e.status, Status::Timeout);
        assert!(e.message.contains("100 ms while reading"), "{}", e.message);
        // Ready at once: no timer involved, whatever the limit.
        let mut zero = Silence::new(Some(Duration::ZERO));
        assert_eq!(zero.guard("x", async { 7 }).await.unwrap(), 7);
        assert!(zero.timer.is_none());
        let mut none = Silence::new(None);
        assert!(none
            .guard("x", tokio::time::sleep(Duration::from_secs(3600)))
            .await
            .is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn reads_that_do_not_move_the_answer_do_not_end_a_silence() {
        let mut silence = Silence::new(Some(Duration::from_millis(100)));
        let ping = || tokio::time::sleep(Duration::from_millis(30));
        // Pings 30 ms apart: each read waits, none moves the answer; the fourth goes past 100 ms.
        assert!(silence.watch(true, "reading", ping()).await.is_ok());
        for _ in 0..2 {
            assert!(silence.watch(false, "reading", ping()).await.is_ok());
        }
        let e = silence.watch(false, "reading", ping()).await.unwrap_err();
        assert!(e.message.contains("100 ms"), "{}", e.message);
        // A token ends the silence; ready reads that move nothing are checked against it too.
        assert!(silence.watch(true, "reading", ping()).await.is_ok());
        tokio::time::advance(Duration::from_millis(150)).await;
        let e = silence.watch(false, "reading", async {}).await.unwrap_err();
        assert_eq!(e.status, Status::Timeout);
        // Moving reads, however slow in total, never time out.
        for _ in 0..10 {
            assert!(silence.watch(true, "reading", ping()).await.is_ok());
        }
    }
}
