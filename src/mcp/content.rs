//! A tool call's result as the library hands it on: its text, whether the server marked it an
//! error, and every content block as a chat-format content part (images and resources are
//! passed on, not dropped).

use serde_json::{json, Value};

/// What one `tools/call` gave.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// The text blocks (and text resources) joined with newlines; what a model is shown.
    pub text: String,
    /// The server marked the result an error (`isError: true`).
    pub is_error: bool,
    /// Every content block as a chat content part, in order, as a JSON array:
    /// `{"type":"text","text"}`, `{"type":"image_url","image_url":{"url":"data:MIME;base64,…"}}`,
    /// `{"type":"input_audio","input_audio":{"data","format"}}`, and resources as
    /// `{"type":"resource","resource":{…as the server sent it}}` /
    /// `{"type":"resource_link",…}` (non-chat types that carry the server's object unchanged).
    pub parts: Value,
    /// The server's `structuredContent`, when it sent one.
    pub structured: Option<Value>,
}

/// Converts the MCP wire shape of a `CallToolResult` (`content`, `isError`,
/// `structuredContent`).
pub fn tool_output(result: &Value) -> ToolOutput {
    let blocks = result
        .get("content")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut texts: Vec<&str> = Vec::new();
    let mut parts = Vec::with_capacity(blocks.len());
    for block in blocks {
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
        let str_of = |k: &str| block.get(k).and_then(Value::as_str).unwrap_or("");
        match kind {
            "text" => {
                texts.push(str_of("text"));
                parts.push(json!({"type":"text","text":str_of("text")}));
            }
            "image" => parts.push(json!({"type":"image_url","image_url":{
                "url": format!("data:{};base64,{}", str_of("mimeType"), str_of("data"))}})),
            "audio" => {
                let format = str_of("mimeType").rsplit('/').next().unwrap_or("wav");
                parts.push(
                    json!({"type":"input_audio","input_audio":{"data":str_of("data"),"format":format}}),
                );
            }
            "resource" => {
                if let Some(text) = block.pointer("/resource/text").and_then(Value::as_str) {
                    texts.push(text);
                }
                parts.push(json!({"type":"resource","resource":block.get("resource").cloned().unwrap_or(Value::Null)}));
            }
            _ => parts.push(block.clone()),
        }
    }
    ToolOutput {
        text: texts.join("\n"),
        is_error: result
            .get("isError")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        parts: Value::Array(parts),
        structured: result.get("structuredContent").cloned(),
    }
}

/// What a model is shown for a result that has no text: a short description of each non-text
/// part (so an image-only result is not an empty string), else the structured content.
pub fn model_text(output: &ToolOutput) -> String {
    if !output.text.is_empty() {
        return output.text.clone();
    }
    if let Some(structured) = &output.structured {
        return structured.to_string();
    }
    let described: Vec<String> = output
        .parts
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| match p.get("type").and_then(Value::as_str) {
            Some("image_url") => "[an image]".to_owned(),
            Some("input_audio") => "[an audio clip]".to_owned(),
            Some("resource") => format!(
                "[resource {}]",
                p.pointer("/resource/uri")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
            ),
            Some("resource_link") => format!(
                "[resource link {}]",
                p.get("uri").and_then(Value::as_str).unwrap_or("?")
            ),
            Some(other) => format!("[{other}]"),
            None => "[content]".to_owned(),
        })
        .collect();
    described.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_images_and_resources_become_parts_in_order() {
        let out = tool_output(&json!({"content":[
            {"type":"text","text":"a"},
            {"type":"image","data":"AAAA","mimeType":"image/png"},
            {"type":"resource","resource":{"uri":"file:///x","mimeType":"text/plain","text":"b"}},
            {"type":"resource_link","uri":"file:///y","name":"y"},
            {"type":"audio","data":"UklG","mimeType":"audio/wav"}],"isError":true}));
        assert_eq!(out.text, "a\nb");
        assert!(out.is_error);
        let parts = out.parts.as_array().unwrap();
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[1]["image_url"]["url"], "data:image/png;base64,AAAA");
        assert_eq!(parts[2]["resource"]["uri"], "file:///x");
        assert_eq!(parts[3]["type"], "resource_link");
        assert_eq!(parts[4]["input_audio"]["format"], "wav");
    }

    #[test]
    fn a_result_without_text_is_described_not_empty() {
        let out =
            tool_output(&json!({"content":[{"type":"image","data":"AA","mimeType":"image/png"}]}));
        assert_eq!(out.text, "");
        assert!(!out.is_error);
        assert_eq!(model_text(&out), "[an image]");
        let out = tool_output(&json!({"content":[],"structuredContent":{"t":1}}));
        assert_eq!(model_text(&out), "{\"t\":1}");
    }
}
