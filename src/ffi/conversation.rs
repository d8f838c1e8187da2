//! (0.2) `ylokh_conversation`: a message history built without a JSON library.

use super::status::ylokh_status;
use super::{
    optional_str, ptr_boundary, required_mut, required_ref, required_str, status_boundary,
    void_boundary,
};
use crate::conversation::{Conversation, ConversationError};
use crate::error::Error;
use std::ffi::c_char;

/// A message history: a JSON array of chat messages. One thread at a time.
///
/// Methods: `ylokh_conversation_new`, `ylokh_conversation_free`, `ylokh_conversation_add`,
/// `ylokh_conversation_add_json`, `ylokh_conversation_add_tool_result`,
/// `ylokh_conversation_add_image`, `ylokh_conversation_len`, `ylokh_conversation_json`,
/// `ylokh_conversation_truncate`; used by `ylokh_chat_request` and `ylokh_agent_request`.
pub struct ylokh_conversation {
    pub(crate) inner: Conversation,
}

impl From<ConversationError> for Error {
    fn from(e: ConversationError) -> Error {
        Error::invalid(e.message)
    }
}

/// A new, empty conversation; NULL only when out of memory. Free it with
/// `ylokh_conversation_free`.
#[no_mangle]
pub extern "C" fn ylokh_conversation_new() -> *mut ylokh_conversation {
    ptr_boundary(|| {
        Ok(Box::into_raw(Box::new(ylokh_conversation {
            inner: Conversation::new(),
        })))
    })
}

/// Frees a conversation. NULL does nothing. Requests started from it are not affected (they
/// copied it).
#[no_mangle]
pub unsafe extern "C" fn ylokh_conversation_free(c: *mut ylokh_conversation) {
    void_boundary(|| {
        if !c.is_null() {
            // SAFETY: a pointer from ylokh_conversation_new, freed once (the contract).
            drop(unsafe { Box::from_raw(c) });
        }
    })
}

/// Appends `{"role":ROLE,"content":CONTENT}`. Both strings are copied (UTF-8, not NULL).
#[no_mangle]
pub unsafe extern "C" fn ylokh_conversation_add(
    c: *mut ylokh_conversation,
    role: *const c_char,
    content: *const c_char,
) -> ylokh_status {
    status_boundary(|| {
        // SAFETY: NULL or a live conversation used by this thread alone, and NULL or
        // NUL-terminated strings (the contract).
        let (c, role, content) = unsafe {
            (
                required_mut(c, "conversation")?,
                required_str(role, "role")?,
                required_str(content, "content")?,
            )
        };
        Ok(c.inner.add(role, content)?)
    })
}

/// Appends one message given as JSON: an object with a string `"role"` (for example an
/// answer's `ylokh_result.message_json`). Kept as given; anything else is
/// YLOKH_INVALID_ARGUMENT and changes nothing.
#[no_mangle]
pub unsafe extern "C" fn ylokh_conversation_add_json(
    c: *mut ylokh_conversation,
    message_json: *const c_char,
) -> ylokh_status {
    status_boundary(|| {
        // SAFETY: as for ylokh_conversation_add.
        let (c, json) = unsafe {
            (
                required_mut(c, "conversation")?,
                required_str(message_json, "message_json")?,
            )
        };
        Ok(c.inner.add_json(json)?)
    })
}

/// Appends a tool's result: `{"role":"tool","tool_call_id":ID,"content":CONTENT}`.
#[no_mangle]
pub unsafe extern "C" fn ylokh_conversation_add_tool_result(
    c: *mut ylokh_conversation,
    tool_call_id: *const c_char,
    content: *const c_char,
) -> ylokh_status {
    status_boundary(|| {
        // SAFETY: as for ylokh_conversation_add.
        let (c, id, content) = unsafe {
            (
                required_mut(c, "conversation")?,
                required_str(tool_call_id, "tool_call_id")?,
                required_str(content, "content")?,
            )
        };
        Ok(c.inner.add_tool_result(id, content)?)
    })
}

/// Appends a message with an image: content becomes
/// `[{"type":"text","text":TEXT},{"type":"image_url","image_url":{"url":URL}}]` (no text part
/// when `text` is NULL). `image` is a file path (read now and sent as a base64 `data:` URL with
/// its MIME type from the file's first bytes: PNG, JPEG, GIF or WebP; other files:
/// YLOKH_INVALID_ARGUMENT), or an http(s) or `data:` URL (sent as given).
#[no_mangle]
pub unsafe extern "C" fn ylokh_conversation_add_image(
    c: *mut ylokh_conversation,
    role: *const c_char,
    text: *const c_char,
    image: *const c_char,
) -> ylokh_status {
    status_boundary(|| {
        // SAFETY: as for ylokh_conversation_add; `text` may be NULL.
        let (c, role, text, image) = unsafe {
            (
                required_mut(c, "conversation")?,
                required_str(role, "role")?,
                optional_str(text, "text")?,
                required_str(image, "image")?,
            )
        };
        Ok(c.inner.add_image(role, text, image)?)
    })
}

/// The number of messages; 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn ylokh_conversation_len(c: *const ylokh_conversation) -> usize {
    super::boundary(
        |_| 0,
        || {
            // SAFETY: NULL or a live conversation (the contract).
            Ok(unsafe { c.as_ref() }.map_or(0, |c| c.inner.len()))
        },
    )
}

/// The conversation as a JSON array (UTF-8, NUL-terminated), borrowed: valid until the next
/// change to the conversation or its free. NULL when `c` is NULL.
#[no_mangle]
pub unsafe extern "C" fn ylokh_conversation_json(c: *const ylokh_conversation) -> *const c_char {
    super::boundary(
        |_| std::ptr::null(),
        || {
            // SAFETY: NULL or a live conversation (the contract).
            let c = unsafe { required_ref(c, "conversation")? };
            Ok(c.inner.json_cstr().as_ptr())
        },
    )
}

/// Keeps the first `n` messages (`n` > the length: YLOKH_INVALID_ARGUMENT, nothing changes).
#[no_mangle]
pub unsafe extern "C" fn ylokh_conversation_truncate(
    c: *mut ylokh_conversation,
    n: usize,
) -> ylokh_status {
    status_boundary(|| {
        // SAFETY: NULL or a live conversation used by this thread alone (the contract).
        let c = unsafe { required_mut(c, "conversation")? };
        Ok(c.inner.truncate(n)?)
    })
}
