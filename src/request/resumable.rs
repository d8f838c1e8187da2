//! What makes a request's stream resumable: llama.cpp's conversation stream (the request
//! carries [`HEADER`] with a fresh id) or a Responses background response. How a broken stream
//! is resumed, and stopped, is [`super::resume`].

/// The request header that makes a stream resumable.
pub(super) const HEADER: &str = "x-conversation-id";

/// How a request's stream can be resumed.
pub(super) enum Resumable {
    /// llama.cpp's conversation stream with this id: resumed by byte offset.
    Conversation(String),
    /// A background response: resumed after the last sequence number, its id from the stream.
    Background,
}

impl Resumable {
    /// The conversation id, for the request header.
    pub(super) fn conversation(&self) -> Option<&str> {
        match self {
            Resumable::Conversation(id) => Some(id),
            Resumable::Background => None,
        }
    }
}

/// A fresh random conversation id: "ylokh-" and 24 hexadecimal digits.
pub(super) fn new_id() -> String {
    format!("ylokh-{:016x}{:08x}", fastrand::u64(..), fastrand::u32(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids() {
        let id = new_id();
        assert!(id.starts_with("ylokh-") && id.len() == 30, "{id}");
        assert_ne!(new_id(), id);
    }
}
