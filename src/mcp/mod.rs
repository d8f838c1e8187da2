//! MCP (Model Context Protocol) sessions on the official Rust SDK, rmcp: a server's tools as
//! chat-format tool definitions, and calls to them. No protocol code of our own: `session`
//! drives rmcp, `stdio` starts a server process, `http` puts rmcp's Streamable HTTP transport
//! on the client's reqwest client, `content` turns a result into text + content parts.

mod content;
mod http;
mod session;
mod stdio;

pub use content::{model_text, ToolOutput};
pub use http::http_client;
pub use session::{Session, Transport};
pub use stdio::Command;
