//! One chat completion: build the body ([`body`]), send it with retries ([`retry`]), read the
//! answer as an event stream or a whole body and deliver what it says ([`response`]), keeping
//! the running tally in [`progress`], and end with an [`Outcome`]; transport failures are
//! classified in [`transport`], and cancellation and the final status between the request's
//! task and its handle are [`state`]. Inside this module no file uses one that uses it
//! (src/README.md lists them in dependency order).

mod body;
mod chat_events;
mod chat_tools;
mod chunked;
mod dialect_events;
mod head;
mod http1;
mod http_error;
mod pool;
mod post;
mod progress;
mod read;
mod redirect;
mod reply;
mod response;
mod resumable;
mod resume;
mod retry;
mod state;
mod target;
mod transport;

pub use body::{build_body, text_message, ChatInput};
pub use pool::Pool;
pub use post::post_whole;
pub use state::RequestState;
pub use target::{Direct, Target};

use progress::Progress;
use resumable::Resumable;
use state::cancelled;

use crate::dialect::Api;
use crate::error::Error;
use crate::log::{log, DEBUG, INFO, WARN};
use crate::outcome::{Outcome, Timings};
use crate::sink::Sink;
use crate::status::Status;
use std::time::Instant;

/// Runs one request to its end. Never panics out (the caller catches), never returns early on
/// cancel without an outcome.
pub async fn run(
    target: &Target,
    state: &RequestState,
    body: bytes::Bytes,
    stream: bool,
    sink: &mut Sink,
) -> Outcome {
    let started = Instant::now();
    let json_asked = crate::dialect::asks_json(&body);
    let mut progress = Progress::new(stream, target.options.api.stream_state(), &target.options);
    progress.chunks = sink.wants_chunks();
    // A resumable stream: llama.cpp's conversation stream (the server keeps a copy under a
    // fresh id and goes on when the connection drops), or a Responses background response.
    let resumable = match target.options.api {
        _ if !(target.options.resume && stream) => None,
        Api::ChatCompletions => Some(Resumable::Conversation(resumable::new_id())),
        Api::Responses => Some(Resumable::Background),
        Api::Messages => None,
    };
    let result = {
        // One copy of the exchange's state in this task (a `timeout` around it in one branch
        // of a `match` would hold a second one, as large).
        let work = std::pin::pin!(exchange(
            target,
            state,
            body,
            stream,
            resumable.as_ref(),
            sink,
            &mut progress,
        ));
        let limit = target.options.timeout;
        let time_limit = async move {
            match limit {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = state.cancelled() => {
                log!(
                    INFO,
                    "request cancelled after {} ms: its connection is closed",
                    started.elapsed().as_millis()
                );
                Err(cancelled())
            }
            result = work => result,
            () = time_limit => Err(Error::new(
                Status::Timeout,
                format!(
                    "the request did not finish within its {} ms time limit; raise it with ylokh_options_set_timeout_ms (0: no limit)",
                    limit.unwrap_or_default().as_millis()
                ),
            )),
        }
    };
    if let (Some(resumable), Err(e)) = (&resumable, &result) {
        // Closing the connection does not stop a resumable stream's generation: this does
        // (unless the request never reached the server).
        if !matches!(e.status, Status::Connect | Status::Tls) {
            resume::stop(target, resumable, &progress).await;
        }
    }
    let mut outcome = match result {
        Ok(()) => Outcome::ok(),
        Err(mut e) => {
            e.message = target.scrub(e.message);
            Outcome::failed(e)
        }
    };
    if outcome.http_status == 0 {
        outcome.http_status = progress.http_status;
    }
    outcome.finish_reason = progress.finish_reason.take();
    outcome.usage = progress.usage;
    log!(
        INFO,
        "request done: {} (http {}) after {} ms, {} tokens{}",
        outcome.status.name(),
        outcome.http_status,
        started.elapsed().as_millis(),
        progress.tokens,
        outcome
            .message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default()
    );
    // What arrived of the assistant message; tool calls only in an answer that ended well.
    let calls = progress
        .calls
        .as_deref()
        .filter(|_| outcome.status == Status::Ok);
    outcome.json_valid = (json_asked && outcome.status == Status::Ok)
        .then(|| crate::dialect::is_json(progress.message.text()));
    let message = std::mem::take(&mut progress.message);
    outcome.message_json =
        (outcome.http_status != 0).then(|| crate::secrets::scrub_json(message.into_json(calls)));
    outcome.n_tool_calls = progress.n_tool_calls;
    outcome.timings = timings(started, &progress, &outcome);
    outcome
}

/// The outcome's timings, from what the exchange noted on the way.
fn timings(started: Instant, progress: &Progress, outcome: &Outcome) -> Timings {
    let ms = |at: Option<Instant>| {
        at.map_or(-1, |at| {
            i64::try_from(at.duration_since(started).as_millis()).unwrap_or(i64::MAX)
        })
    };
    let now = Instant::now();
    // Completion tokens as the server counted them, else the text pieces that arrived.
    let tokens = match outcome.usage.completion_tokens {
        n if n > 0 => n as f64,
        _ => progress.tokens as f64,
    };
    let tokens_per_s = match progress.first_token {
        Some(first) if tokens >= 2.0 => {
            let span = progress
                .generation_end
                .unwrap_or(now)
                .duration_since(first)
                .as_secs_f64();
            if span > 0.0 {
                (tokens - 1.0) / span
            } else {
                -1.0
            }
        }
        _ => -1.0,
    };
    Timings {
        ttfb_ms: ms(progress.headers_at),
        ttft_ms: ms(progress.first_token),
        duration_ms: ms(Some(now)),
        tokens_per_s,
        retries: progress.retries,
        resumes: progress.resumes,
        server_json: progress.server_timings.clone(),
    }
}

async fn exchange(
    target: &Target,
    state: &RequestState,
    body: bytes::Bytes,
    stream: bool,
    resumable: Option<&Resumable>,
    sink: &mut Sink,
    progress: &mut Progress,
) -> Result<(), Error> {
    let sent = Instant::now();
    let conversation = resumable.and_then(Resumable::conversation);
    // Boxed: sending (connecting, TLS, retries, redirects) needs a large state, and only until
    // the response starts; kept inline, every streaming request's task would carry it to its end.
    let (response, sent_at) = Box::pin(retry::send_with_retries(
        target,
        body,
        stream,
        conversation,
        &mut progress.retries,
        &mut progress.headers_at,
    ))
    .await?;
    progress.headers_at = Some(Instant::now());
    progress.sent_at = Some(sent_at);
    progress.http_status = response.status().as_u16();
    log!(
        DEBUG,
        "response {} after {} ms",
        response.status(),
        sent.elapsed().as_millis()
    );
    if stream {
        response::read_stream(target, state, response, resumable, sink, progress).await?;
    } else {
        response::read_whole(target, response, sink, progress).await?;
    }
    // The answer ended well: only now are its tool calls complete, and handed out in order.
    let mut calls = if stream || progress.dialect.is_some() {
        std::mem::take(&mut progress.tools).finish()
    } else {
        std::mem::take(&mut progress.whole_calls)
    };
    if progress.finish_reason.as_deref() == Some("length") && !calls.is_empty() {
        // The model did not finish its turn: a call it was writing may be cut anywhere, and
        // none of them may reach a tool or go back into the conversation as if whole.
        log!(
            WARN,
            "{} tool call(s) not handed out: the answer was cut by the token limit (finish_reason \"length\")",
            calls.len()
        );
        calls.clear();
    }
    for call in &calls {
        if state.is_cancelled() {
            return Err(cancelled());
        }
        // Handed out, whatever the callback answers.
        progress.n_tool_calls += 1;
        sink.tool_call(call).await?;
    }
    progress.calls = Some(calls);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pull::PullQueue;
    use std::sync::Arc;

    /// A streaming request holds its task's state for its whole life: 10,000 concurrent
    /// streams in 150 MB (issue 25) depend on it staying small. It was 12 KB while the time
    /// limit kept a second copy of the exchange and sending and resuming sat inline; they are
    /// boxed for as long as they run, and the whole is about 3 KB.
    #[test]
    fn a_requests_state_stays_small() {
        let target = target::tests::target("http://127.0.0.1:9/v1", true);
        let state = RequestState::new();
        let mut sink = Sink::Queue(Arc::new(PullQueue::new(false)));
        let run = run(&target, &state, bytes::Bytes::new(), true, &mut sink);
        let size = std::mem::size_of_val(&run);
        assert!(size <= 4096, "a request's state is {size} bytes");
    }
}
