// ylokh.hpp: header-only C++17 over the C API in ylokh.h. Link with -lylokh as for C.
//
// Ownership: every class owns its C handle through one ylokh::Handle (below) and frees it in
// its destructor; all are move-only, with noexcept moves. A moved-from object holds no handle:
// its get() is nullptr, its queries answer as the C functions do on NULL (0, "", nullptr;
// McpSession::tools_changed() true) and its other calls throw Error (YLOKH_INVALID_ARGUMENT).
// Errors: the throwing calls throw ylokh::Error (status, HTTP status, message); each has a
// non-throwing twin, named try_*, that returns a ylokh::Result instead (it can still throw
// std::bad_alloc). Threads: handlers given to Client::start run on a library thread, never the
// one that called start, and never two at once for one request; everything else may be called
// from any thread, except where a declaration says so.
//
//   ylokh::Client client(ylokh::Options::compatible("http://127.0.0.1:8080/v1"));
//   for (std::string_view token : client.stream({{"user", "Why is the sky blue?"}}))
//       std::cout << token << std::flush;
#ifndef YLOKH_HPP
#define YLOKH_HPP

#include "ylokh.h"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace ylokh {

// The server's wire API (YLOKH_API_*), for Options::api.
enum class Api : uint32_t {
    chat = YLOKH_API_CHAT_COMPLETIONS,  // POST {base}/chat/completions
    responses = YLOKH_API_RESPONSES,    // POST {base}/responses (OpenAI Responses API)
    messages = YLOKH_API_MESSAGES,      // POST {base}/messages (Anthropic Messages API)
};

// One chat message; copied by every call that takes it.
struct Message {
    std::string role;     // "system", "user", "assistant", ...
    std::string content;  // UTF-8
};

// Token counts; -1 where the server did not say.
struct Usage {
    int64_t prompt_tokens = -1;
    int64_t completion_tokens = -1;
    int64_t total_tokens = -1;
};

// How a call or a request ended: an owned copy, valid for as long as you keep it.
struct Result {
    ylokh_status status = YLOKH_OK;
    uint16_t http_status = 0;                  // 0 when no HTTP response arrived
    std::string message;                       // empty when OK; else what happened and what to do
    std::optional<std::string> finish_reason;  // "stop", "length", ... when the server said
    Usage usage;
    // The assistant message as it arrived (chat format, ready for Conversation::add_json);
    // none only when no response arrived. Tool calls in it only when the answer ended OK.
    std::optional<std::string> message_json;
    uint32_t n_tool_calls = 0;  // complete tool calls handed out
    // Timings as the client measured them, in ms from the start; -1 when unknown.
    int64_t ttfb_ms = -1;         // until the response headers
    int64_t ttft_ms = -1;         // until the first token
    int64_t duration_ms = -1;     // until the end
    double tokens_per_s = -1;     // completion tokens per second after the first token
    uint32_t retries = 0;         // requests sent again
    uint32_t resumes = 0;         // broken streams resumed
    std::optional<std::string> server_timings_json;  // the server's own `timings` (llama.cpp)

    bool ok() const noexcept { return status == YLOKH_OK; }
    explicit operator bool() const noexcept { return ok(); }
    // The status's name, e.g. "YLOKH_TIMEOUT" (static storage).
    const char *status_name() const noexcept { return ylokh_status_str(status); }

    // Copies a C result (which is only borrowed).
    static Result from(const ylokh_result &r) {
        Result out;
        out.status = r.status;
        out.http_status = r.http_status;
        if (r.message) out.message = r.message;
        if (r.finish_reason) out.finish_reason = r.finish_reason;
        out.usage = Usage{r.prompt_tokens, r.completion_tokens, r.total_tokens};
        if (r.message_json) out.message_json = r.message_json;
        out.n_tool_calls = r.n_tool_calls;
        out.ttfb_ms = r.ttfb_ms;
        out.ttft_ms = r.ttft_ms;
        out.duration_ms = r.duration_ms;
        out.tokens_per_s = r.tokens_per_s;
        out.retries = r.retries;
        out.resumes = r.resumes;
        if (r.server_timings_json) out.server_timings_json = r.server_timings_json;
        return out;
    }

    // The failure of the last C call on this thread that returned `status`.
    static Result last_error(ylokh_status status) {
        Result out;
        out.status = status;
        const char *message = ylokh_last_error();
        out.message = message ? message : ylokh_status_str(status);
        return out;
    }
};

// What the throwing calls throw: what() is "YLOKH_NAME: message".
class Error : public std::runtime_error {
public:
    explicit Error(Result result)
        : std::runtime_error(std::string(result.status_name()) + ": " + result.message),
          result_(std::move(result)) {}
    ylokh_status status() const noexcept { return result_.status; }
    uint16_t http_status() const noexcept { return result_.http_status; }
    const std::string &message() const noexcept { return result_.message; }
    const Result &result() const noexcept { return result_; }

private:
    Result result_;
};

// Owns one C handle and frees it with Free (a ylokh_*_free function): move-only, noexcept
// moves; a moved-from or empty Handle holds nullptr and frees nothing. Every class below keeps
// its handle in one, and you may use it for handles you get from the C API yourself:
//   ylokh::Handle<ylokh_conversation, ylokh_conversation_free> c(ylokh_conversation_new());
template <typename T, void (*Free)(T *)>
class Handle {
public:
    Handle() noexcept = default;
    explicit Handle(T *handle) noexcept : handle_(handle) {}
    Handle(Handle &&other) noexcept : handle_(other.release()) {}
    Handle &operator=(Handle &&other) noexcept {
        if (this != &other) reset(other.release());
        return *this;
    }
    Handle(const Handle &) = delete;
    Handle &operator=(const Handle &) = delete;
    ~Handle() { reset(); }

    // The handle (borrowed), or nullptr.
    T *get() const noexcept { return handle_; }
    // Gives the handle up: the caller frees it. This Handle then holds nullptr.
    T *release() noexcept { return std::exchange(handle_, nullptr); }
    // Frees the held handle (if any) and holds `handle` instead.
    void reset(T *handle = nullptr) noexcept {
        if (T *old = std::exchange(handle_, handle)) Free(old);
    }
    explicit operator bool() const noexcept { return handle_ != nullptr; }

private:
    T *handle_ = nullptr;
};

namespace detail {
inline void check(ylokh_status status) {
    if (status != YLOKH_OK) throw Error(Result::last_error(status));
}
inline uint64_t to_ms(std::optional<std::chrono::milliseconds> timeout) {
    return timeout ? static_cast<uint64_t>(timeout->count() < 0 ? 0 : timeout->count()) : UINT64_MAX;
}
inline const char *c_str_or_null(const std::optional<std::string> &s) { return s ? s->c_str() : nullptr; }
// The refusal of a moved-from object where the C call would take NULL as "none" (options: the
// Ylokh preset; a conversation: no messages) instead of refusing it.
inline Result moved_from(const char *what) {
    Result r;
    r.status = YLOKH_INVALID_ARGUMENT;
    r.message = std::string("this ylokh::") + what + " holds no handle (it was moved from): pass one that does";
    return r;
}

// Just enough JSON to read a YLOKH_EVENT_TOOL_CALL text (valid JSON the library wrote): strings
// (escapes decoded to UTF-8), numbers, and skipping any other value.
struct JsonReader {
    const char *p, *end;
    void ws() {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
    }
    bool eat(char c) {
        ws();
        if (p < end && *p == c) {
            ++p;
            return true;
        }
        return false;
    }
    static void utf8(std::string &out, uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    bool hex4(uint32_t &v) {
        if (end - p < 4) return false;
        v = 0;
        for (int i = 0; i < 4; ++i, ++p) {
            char c = *p;
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) return false;
            v = v * 16 + static_cast<uint32_t>(d);
        }
        return true;
    }
    bool string(std::string &out) {
        if (!eat('"')) return false;
        out.clear();
        while (p < end && *p != '"') {
            if (*p != '\\') {
                out += *p++;
                continue;
            }
            if (++p >= end) return false;
            char e = *p++;
            switch (e) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'u': {
                uint32_t cp = 0, low = 0;
                if (!hex4(cp)) return false;
                if (cp >= 0xD800 && cp < 0xDC00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                    p += 2;
                    if (!hex4(low)) return false;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                }
                utf8(out, cp);
                break;
            }
            default: out += e;  // " \ /
            }
        }
        return eat('"');
    }
    bool skip() {  // any value
        ws();
        if (p >= end) return false;
        if (*p == '"') {
            std::string ignored;
            return string(ignored);
        }
        if (*p == '{' || *p == '[') {
            char close = *p == '{' ? '}' : ']';
            ++p;
            if (eat(close)) return true;
            do {
                if (close == '}') {
                    std::string key;
                    if (!string(key) || !eat(':')) return false;
                }
                if (!skip()) return false;
            } while (eat(','));
            return eat(close);
        }
        while (p < end && *p != ',' && *p != '}' && *p != ']') ++p;
        return true;
    }
    // Calls `member(key)` for each member of an object; `member` reads or skips the value.
    template <typename F>
    bool object(F &&member) {
        if (!eat('{')) return false;
        if (eat('}')) return true;
        do {
            std::string key;
            if (!string(key) || !eat(':') || !member(key)) return false;
        } while (eat(','));
        return eat('}');
    }
};
}  // namespace detail

// Client settings (a builder). Every setter throws Error on a bad value and returns the
// options, so calls chain, on a variable or on a temporary:
//   auto opts = ylokh::Options::compatible(url).api_key(key).timeout(std::chrono::seconds(30));
// One thread at a time. A Client copies the options, so they may be destroyed right after.
class Options {
public:
    // The Ylokh preset: its service URL, headers, model and parameters.
    Options() : Options(ylokh_options_new(), YLOKH_INTERNAL) {}
    static Options ylokh() { return Options(); }
    // A plain OpenAI-compatible server, e.g. "http://127.0.0.1:8080/v1". Throws on a bad URL.
    static Options compatible(const std::string &base_url) {
        return Options(ylokh_options_new_compatible(base_url.c_str()), YLOKH_INVALID_ARGUMENT);
    }

    Options &base_url(const std::string &url) & { return set(ylokh_options_set_base_url(get(), url.c_str())); }
    Options &&base_url(const std::string &url) && { return std::move(base_url(url)); }
    // std::nullopt: no key. Never appears in any message or log record.
    Options &api_key(const std::optional<std::string> &key) & {
        return set(ylokh_options_set_api_key(get(), detail::c_str_or_null(key)));
    }
    Options &&api_key(const std::optional<std::string> &key) && { return std::move(api_key(key)); }
    // Sets or replaces a header; std::nullopt removes it.
    Options &header(const std::string &name, const std::optional<std::string> &value) & {
        return set(ylokh_options_set_header(get(), name.c_str(), detail::c_str_or_null(value)));
    }
    Options &&header(const std::string &name, const std::optional<std::string> &value) && {
        return std::move(header(name, value));
    }
    // http, https, socks5 or socks5h URL; std::nullopt: direct.
    Options &proxy(const std::optional<std::string> &url) & {
        return set(ylokh_options_set_proxy(get(), detail::c_str_or_null(url)));
    }
    Options &&proxy(const std::optional<std::string> &url) && { return std::move(proxy(url)); }
    // Whole request, retries included; 0: none.
    Options &timeout(std::chrono::milliseconds t) & { return set(ylokh_options_set_timeout_ms(get(), ms(t))); }
    Options &&timeout(std::chrono::milliseconds t) && { return std::move(timeout(t)); }
    Options &connect_timeout(std::chrono::milliseconds t) & {
        return set(ylokh_options_set_connect_timeout_ms(get(), ms(t)));
    }
    Options &&connect_timeout(std::chrono::milliseconds t) && { return std::move(connect_timeout(t)); }
    // Longest silence while waiting for headers or body bytes; 0: none.
    Options &read_timeout(std::chrono::milliseconds t) & {
        return set(ylokh_options_set_read_timeout_ms(get(), ms(t)));
    }
    Options &&read_timeout(std::chrono::milliseconds t) && { return std::move(read_timeout(t)); }
    // Longest wait from sending to the first token (the read timeout waits meanwhile); 0: none.
    Options &first_token_timeout(std::chrono::milliseconds t) & {
        return set(ylokh_options_set_first_token_timeout_ms(get(), ms(t)));
    }
    Options &&first_token_timeout(std::chrono::milliseconds t) && { return std::move(first_token_timeout(t)); }
    Options &max_retries(uint32_t n) & { return set(ylokh_options_set_max_retries(get(), n)); }
    // Resume a stream that breaks mid-answer where it broke (llama.cpp's conversation streams,
    // OpenAI's background responses); cancel then stops the generation on the server.
    Options &resume(bool enabled) & { return set(ylokh_options_set_resume(get(), enabled)); }
    Options &&resume(bool enabled) && { return std::move(resume(enabled)); }
    Options &&max_retries(uint32_t n) && { return std::move(max_retries(n)); }
    // The server's wire API: Api::chat (default), Api::responses or Api::messages. Messages,
    // conversations, tools and results stay in the chat format whatever the dialect.
    Options &api(Api a) & { return set(ylokh_options_set_api(get(), static_cast<uint32_t>(a))); }
    Options &&api(Api a) && { return std::move(api(a)); }
    // Whether chat streams ask for token usage (default: true for compatible(), false for the
    // Ylokh preset); off for servers that reject stream_options.
    Options &stream_usage(bool enabled) & { return set(ylokh_options_set_stream_usage(get(), enabled)); }
    Options &&stream_usage(bool enabled) && { return std::move(stream_usage(enabled)); }
    // Trusts the certificates of a PEM file too (read now).
    Options &ca_file(const std::string &pem_path) & { return set(ylokh_options_add_ca_file(get(), pem_path.c_str())); }
    Options &&ca_file(const std::string &pem_path) && { return std::move(ca_file(pem_path)); }
    // std::nullopt: omit "model" unless a request names one.
    Options &default_model(const std::optional<std::string> &model) & {
        return set(ylokh_options_set_default_model(get(), detail::c_str_or_null(model)));
    }
    Options &&default_model(const std::optional<std::string> &model) && { return std::move(default_model(model)); }
    // A JSON object whose keys start every request body.
    Options &default_params(const std::string &json_object) & {
        return set(ylokh_options_set_default_params(get(), json_object.c_str()));
    }
    Options &&default_params(const std::string &json_object) && { return std::move(default_params(json_object)); }
    Options &worker_threads(uint32_t n) & { return set(ylokh_options_set_worker_threads(get(), n)); }
    Options &&worker_threads(uint32_t n) && { return std::move(worker_threads(n)); }
    Options &max_event_bytes(size_t n) & { return set(ylokh_options_set_max_event_bytes(get(), n)); }
    Options &&max_event_bytes(size_t n) && { return std::move(max_event_bytes(n)); }

    // The C handle, owned by this object: valid while it lives.
    ylokh_options *get() const noexcept { return opts_.get(); }

private:
    Options(ylokh_options *p, ylokh_status if_null) : opts_(p) {
        if (!p) throw Error(Result::last_error(if_null));
    }
    Options &set(ylokh_status status) {
        detail::check(status);
        return *this;
    }
    static uint64_t ms(std::chrono::milliseconds t) { return t.count() < 0 ? 0 : static_cast<uint64_t>(t.count()); }
    Handle<ylokh_options, ylokh_options_free> opts_;
};

// What a request's handlers are given. Each may be empty. They run on a library thread, one at
// a time, with text borrowed for the call (copy it to keep it). An exception thrown by a text
// handler stops the request (YLOKH_ABORTED) and is rethrown by Request::wait().
// Set them by name, with any callables (capturing lambdas included):
//   ylokh::Handlers().token([&](std::string_view t) { ... }).done([&](const ylokh::Result &r) { ... })
// A tool call as a handler sees it: views valid only during the handler (copy to keep).
// In on_tool_call it is complete (name set, arguments whole, "{}" when none); in
// on_tool_call_delta it is a piece: name empty unless this piece brings it, arguments only
// the new fragment, arguments_valid false.
struct ToolCall {
    uint32_t index = 0;          // position among the answer's calls, from 0
    std::string_view id;         // the server's id, or "call_<index>"
    std::string_view name;
    std::string_view arguments;  // JSON text
    bool arguments_valid = false;  // arguments parse as a JSON object

    static ToolCall from(const ylokh_tool_call &c) {
        ToolCall t;
        t.index = c.index;
        t.id = c.id ? std::string_view(c.id) : std::string_view();
        t.name = c.name ? std::string_view(c.name) : std::string_view();
        t.arguments = std::string_view(c.arguments ? c.arguments : "", c.arguments ? c.arguments_len : 0);
        t.arguments_valid = c.arguments_valid;
        return t;
    }
};

// A complete tool call, owned: what Stream::tool_calls() and Completion::tool_calls hold.
struct OwnedToolCall {
    uint32_t index = 0;
    std::string id;         // the server's id, or "call_<index>"
    std::string name;
    std::string arguments;  // JSON text, "{}" when none

    // From a YLOKH_EVENT_TOOL_CALL text: {"index":I,"id":ID,"type":"function","function":{...}}.
    static std::optional<OwnedToolCall> from_json(std::string_view json) {
        OwnedToolCall call;
        detail::JsonReader r{json.data(), json.data() + json.size()};
        bool ok = r.object([&](const std::string &key) {
            if (key == "index") {
                r.ws();
                const char *start = r.p;
                if (!r.skip()) return false;
                call.index = static_cast<uint32_t>(std::strtoul(std::string(start, r.p).c_str(), nullptr, 10));
                return true;
            }
            if (key == "id") return r.string(call.id);
            if (key != "function") return r.skip();
            return r.object([&](const std::string &inner) {
                if (inner == "name") return r.string(call.name);
                if (inner == "arguments") return r.string(call.arguments);
                return r.skip();
            });
        });
        if (!ok) return std::nullopt;
        return call;
    }
};

struct Handlers {
    std::function<void(std::string_view)> on_token;      // each piece of the answer, in order
    std::function<void(std::string_view)> on_reasoning;  // reasoning text, if the model sends it
    std::function<void(std::string_view)> on_chunk;      // the raw JSON of every event
    std::function<void(const ToolCall &)> on_tool_call_delta;  // pieces of tool calls as they stream
    // Each complete tool call, only when the answer ended well, in index order, before on_done.
    std::function<void(const ToolCall &)> on_tool_call;
    std::function<void(const Result &)> on_done;         // exactly once, last

    Handlers &token(std::function<void(std::string_view)> f) {
        on_token = std::move(f);
        return *this;
    }
    Handlers &reasoning(std::function<void(std::string_view)> f) {
        on_reasoning = std::move(f);
        return *this;
    }
    Handlers &chunk(std::function<void(std::string_view)> f) {
        on_chunk = std::move(f);
        return *this;
    }
    Handlers &tool_call_delta(std::function<void(const ToolCall &)> f) {
        on_tool_call_delta = std::move(f);
        return *this;
    }
    Handlers &tool_call(std::function<void(const ToolCall &)> f) {
        on_tool_call = std::move(f);
        return *this;
    }
    Handlers &done(std::function<void(const Result &)> f) {
        on_done = std::move(f);
        return *this;
    }
};

// A message history (ylokh_conversation), built without a JSON library. Move-only, one thread
// at a time; requests copy it when they start.
//   ylokh::Conversation c;
//   c.add("system", "Be brief.").add("user", "Why is the sky blue?");
class Conversation {
public:
    Conversation() : c_(ylokh_conversation_new()) {
        if (!c_) throw Error(Result::last_error(YLOKH_INTERNAL));
    }

    // {"role":ROLE,"content":CONTENT}. Throws Error (YLOKH_INVALID_ARGUMENT) on bad input.
    Conversation &add(const std::string &role, const std::string &content) {
        detail::check(ylokh_conversation_add(c_.get(), role.c_str(), content.c_str()));
        return *this;
    }
    // One message object with a string "role", e.g. a Result's message_json.
    Conversation &add_json(const std::string &message_json) {
        detail::check(ylokh_conversation_add_json(c_.get(), message_json.c_str()));
        return *this;
    }
    // {"role":"tool","tool_call_id":ID,"content":CONTENT}.
    Conversation &add_tool_result(const std::string &tool_call_id, const std::string &content) {
        detail::check(ylokh_conversation_add_tool_result(c_.get(), tool_call_id.c_str(), content.c_str()));
        return *this;
    }
    // An image (a PNG/JPEG/GIF/WebP file path, or an http(s) or data: URL) with optional text.
    Conversation &add_image(const std::string &role, const std::optional<std::string> &text, const std::string &image) {
        detail::check(ylokh_conversation_add_image(c_.get(), role.c_str(), text ? text->c_str() : nullptr, image.c_str()));
        return *this;
    }
    // Keeps the first n messages; throws when n > size().
    Conversation &truncate(size_t n) {
        detail::check(ylokh_conversation_truncate(c_.get(), n));
        return *this;
    }
    size_t size() const noexcept { return ylokh_conversation_len(c_.get()); }
    // The JSON array; valid until the next change.
    // "" on a moved-from conversation (ylokh_conversation_json(NULL) is NULL, and a
    // string_view of NULL is undefined behaviour).
    std::string_view json() const noexcept {
        const char *j = ylokh_conversation_json(c_.get());
        return j ? std::string_view(j) : std::string_view();
    }
    ylokh_conversation *get() const noexcept { return c_.get(); }

private:
    Handle<ylokh_conversation, ylokh_conversation_free> c_;
};

// A tool for Client::run_tools: takes the call's JSON arguments, returns the result text the
// model gets back. It runs on the agent run's thread. Throwing sends an error result instead:
// the model sees "Error: <what()>" (the run goes on).
using Tool = std::function<std::string(std::string_view arguments_json)>;

// How Client::run_tools ended.
struct AgentResult {
    Result result;          // the last turn's result (its message_json is the final answer, not
                            // appended to the conversation); token counts summed over the run
    int steps = 0;          // model turns made
    bool answered = false;  // false: max_steps ran out while the model still called tools
};

// The options of one request, beyond its messages.
struct RequestOptions {
    std::optional<std::string> model;        // none: the client's default model
    std::optional<std::string> params_json;  // extra body parameters: a JSON object merged last into the body
    std::optional<std::string> tools_json;   // a JSON array of tool definitions (chat format)
    bool stream = true;
};

class Client;
class Stream;
class McpSession;

// A started request with handlers. Move-only. Destroying it cancels the request if it is still
// running (its on_done still runs, on a library thread; the handlers stay alive until then).
class Request {
public:
    Request() = default;

    // Asks the request to stop (it ends with YLOKH_CANCELLED unless it already ended). Any thread,
    // never blocks, idempotent.
    void cancel() noexcept {
        if (req_) ylokh_request_cancel(req_.get());
    }

    // Waits until on_done has returned; the final result (YLOKH_PENDING if `timeout` passed
    // first). Not from a handler (YLOKH_RECURSIVE_CALL).
    Result try_wait(std::optional<std::chrono::milliseconds> timeout = std::nullopt) {
        if (!req_) return invalid();
        ylokh_status status = ylokh_request_wait(req_.get(), detail::to_ms(timeout));
        if (status == YLOKH_PENDING || status == YLOKH_RECURSIVE_CALL || status == YLOKH_INVALID_ARGUMENT)
            return Result::last_error(status);
        return state_->result;
    }

    // Waits until the request ends; throws Error unless it ended OK, or rethrows what a handler
    // threw. The result carries finish_reason and usage.
    Result wait() {
        Result result = try_wait();
        if (state_ && state_->exception) std::rethrow_exception(state_->exception);
        if (!result.ok()) throw Error(std::move(result));
        return result;
    }

    // The C handle (borrowed), or nullptr for a moved-from or empty Request.
    ylokh_request *get() const noexcept { return req_.get(); }

private:
    friend class Client;
    struct State {
        Handlers handlers;
        Result result;
        std::exception_ptr exception;
    };
    // What the C side holds as user_data: a reference to the state, dropped in on_done.
    using Ref = std::shared_ptr<State>;

    static int text(void *user_data, std::function<void(std::string_view)> Handlers::*which, const char *text,
                    size_t len) {
        State &state = **static_cast<Ref *>(user_data);
        try {
            (state.handlers.*which)(std::string_view(text, len));
            return 0;
        } catch (...) {
            state.exception = std::current_exception();
            return 1;
        }
    }
    static int on_token(void *u, const char *t, size_t n) { return text(u, &Handlers::on_token, t, n); }
    static int on_reasoning(void *u, const char *t, size_t n) { return text(u, &Handlers::on_reasoning, t, n); }
    static int on_chunk(void *u, const char *t, size_t n) { return text(u, &Handlers::on_chunk, t, n); }
    static int tool(void *user_data, std::function<void(const ToolCall &)> Handlers::*which,
                    const ylokh_tool_call *call) {
        State &state = **static_cast<Ref *>(user_data);
        try {
            (state.handlers.*which)(ToolCall::from(*call));
            return 0;
        } catch (...) {
            state.exception = std::current_exception();
            return 1;
        }
    }
    static int on_tool_call_delta(void *u, const ylokh_tool_call *c) {
        return tool(u, &Handlers::on_tool_call_delta, c);
    }
    static int on_tool_call(void *u, const ylokh_tool_call *c) { return tool(u, &Handlers::on_tool_call, c); }
    static void on_done(void *user_data, const ylokh_result *result) {
        std::unique_ptr<Ref> ref(static_cast<Ref *>(user_data));
        State &state = **ref;
        try {
            state.result = Result::from(*result);
            if (state.handlers.on_done) state.handlers.on_done(state.result);
        } catch (...) {
            if (!state.exception) state.exception = std::current_exception();
        }
    }

    static Result invalid() {
        Result r;
        r.status = YLOKH_INVALID_ARGUMENT;
        r.message = "this ylokh::Request holds no request (moved from, or never started)";
        return r;
    }

    // Declared first, destroyed last: the request is freed (cancelled) before the state goes
    // (the C side keeps its own reference until on_done).
    std::shared_ptr<State> state_;
    Handle<ylokh_request, ylokh_request_free> req_;
};

// A streamed answer to iterate over (the pull interface): no callbacks, no foreign threads.
//   for (std::string_view token : client.stream(messages)) ...
// Each token is valid until the iterator moves on. When the request fails, the increment that
// reaches the end throws Error; result() then has the outcome. With tools, the complete calls
// are in tool_calls() once the iteration reached the end (and result().message_json is the
// assistant turn to add to the conversation). Move-only; destroying it cancels the request.
// One thread at a time.
class Stream {
public:
    class iterator {
    public:
        using iterator_category = std::input_iterator_tag;
        using value_type = std::string_view;
        using difference_type = std::ptrdiff_t;
        using pointer = const std::string_view *;
        using reference = const std::string_view &;

        iterator() = default;
        reference operator*() const noexcept { return token_; }
        pointer operator->() const noexcept { return &token_; }
        iterator &operator++() {
            stream_->advance(token_);
            if (stream_->done_) stream_ = nullptr;
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator &a, const iterator &b) noexcept { return a.stream_ == b.stream_; }
        friend bool operator!=(const iterator &a, const iterator &b) noexcept { return !(a == b); }

    private:
        friend class Stream;
        explicit iterator(Stream *s) : stream_(s) { ++*this; }
        Stream *stream_ = nullptr;
        std::string_view token_;
    };

    // Starts the pull; call once.
    iterator begin() { return done_ ? iterator() : iterator(this); }
    iterator end() noexcept { return iterator(); }

    // Stops the request; iteration then ends with YLOKH_CANCELLED. Any thread.
    void cancel() noexcept {
        if (req_) ylokh_request_cancel(req_.get());
    }
    // The outcome, once the iteration reached the end (status YLOKH_PENDING before).
    const Result &result() const noexcept { return result_; }
    // Reasoning text seen so far (the model's "thinking", when it sends any).
    const std::string &reasoning() const noexcept { return reasoning_; }
    // The complete tool calls, in index order (only when the answer ended well: they come just
    // before the end).
    const std::vector<OwnedToolCall> &tool_calls() const noexcept { return tool_calls_; }

    // For your own event loop (libylokh 0.3): the request's descriptor (ylokh_request_fd),
    // readable exactly while try_next() has something to say. Owned by the stream: never read,
    // write or close it. Throws Error on a stream that was moved from.
    int fd() const {
        int fd = ylokh_request_fd(req_.get());
        if (fd < 0) throw Error(Result::last_error(YLOKH_INVALID_ARGUMENT));
        return fd;
    }
    // Without waiting: true with the next token in `token`, or false when none is there yet or
    // the stream ended (done() says which; result() then has the outcome). Throws Error when
    // the request failed, as iteration does. Use it when fd() is readable.
    bool try_next(std::string_view &token) {
        while (!done_) {
            ylokh_event event{};
            ylokh_status status = ylokh_request_next(req_.get(), 0, &event);
            if (status == YLOKH_PENDING) return false;
            detail::check(status);
            if (event.kind == YLOKH_EVENT_TOKEN) {
                token = std::string_view(event.text, event.len);
                return true;
            }
            if (event.kind == YLOKH_EVENT_REASONING) reasoning_.append(event.text, event.len);
            if (event.kind == YLOKH_EVENT_DONE) {
                done_ = true;
                result_ = Result::from(*event.result);
                if (!result_.ok()) throw Error(result_);
            }
        }
        return false;
    }
    // Whether the stream has ended (its DONE was taken).
    bool done() const noexcept { return done_; }

private:
    friend class Client;
    explicit Stream(ylokh_request *req) : req_(req) { result_.status = YLOKH_PENDING; }

    void advance(std::string_view &token) {
        for (;;) {
            ylokh_event event{};
            detail::check(ylokh_request_next(req_.get(), UINT64_MAX, &event));
            if (event.kind == YLOKH_EVENT_TOKEN) {
                token = std::string_view(event.text, event.len);
                return;
            }
            if (event.kind == YLOKH_EVENT_REASONING) {
                reasoning_.append(event.text, event.len);
                continue;
            }
            if (event.kind == YLOKH_EVENT_TOOL_CALL) {
                if (auto call = OwnedToolCall::from_json(std::string_view(event.text, event.len)))
                    tool_calls_.push_back(std::move(*call));
                continue;
            }
            if (event.kind == YLOKH_EVENT_DONE) {
                done_ = true;
                result_ = Result::from(*event.result);
                if (!result_.ok()) throw Error(result_);
                return;
            }
        }
    }

    Handle<ylokh_request, ylokh_request_free> req_;
    bool done_ = false;
    Result result_;
    std::string reasoning_;
    std::vector<OwnedToolCall> tool_calls_;
};

// The vectors of one Client::embed_flat call (libylokh 0.3): count() rows of dimensions()
// floats, contiguous, in input order. Owns the library's ylokh_embeddings; move-only.
class Embeddings {
public:
    size_t count() const noexcept { return e_ ? e_.get()->count : 0; }
    size_t dimensions() const noexcept { return e_ ? e_.get()->dimensions : 0; }
    // All count() * dimensions() floats, row after row.
    const float *data() const noexcept { return e_ ? e_.get()->data : nullptr; }
    // Row i: dimensions() floats.
    const float *row(size_t i) const noexcept { return e_ ? data() + i * dimensions() : nullptr; }
    // -1 when the server did not say.
    int64_t prompt_tokens() const noexcept { return e_ ? e_.get()->prompt_tokens : -1; }
    std::string model() const { return e_ && e_.get()->model ? e_.get()->model : ""; }
    // The C struct (borrowed), valid while this object lives.
    const ylokh_embeddings *get() const noexcept { return e_.get(); }

private:
    friend class Client;
    explicit Embeddings(ylokh_embeddings *e) noexcept : e_(e) {}
    Handle<ylokh_embeddings, ylokh_embeddings_free> e_;
};

// An answer and how it ended, from Client::try_complete.
struct Completion {
    std::string text;
    Result result;
    std::vector<OwnedToolCall> tool_calls;  // the complete tool calls, when it ended OK
};

// A client: its own runtime threads and connection pool. Thread-safe: start requests from any
// thread. Move-only. Destroying it cancels its running requests and waits until each one's
// on_done has returned (from inside a handler it cannot wait: it starts the same teardown and
// returns at once, see ylokh_client_free). Requests and Streams may outlive it.
class Client {
public:
    // Throws Error when the options are unusable.
    explicit Client(const Options &options = Options()) {
        if (!options.get()) throw Error(detail::moved_from("Options"));
        ylokh_client *raw = nullptr;
        detail::check(ylokh_client_new(options.get(), &raw));
        client_.reset(raw);
    }
    // The non-throwing twin: std::nullopt, with `error` saying why.
    static std::optional<Client> try_create(const Options &options, Result &error) {
        if (!options.get()) {
            error = detail::moved_from("Options");
            return std::nullopt;
        }
        ylokh_client *raw = nullptr;
        ylokh_status status = ylokh_client_new(options.get(), &raw);
        if (status != YLOKH_OK) {
            error = Result::last_error(status);
            return std::nullopt;
        }
        return Client(raw);
    }
    // Starts a request whose events go to `handlers` on a library thread. Throws Error when it
    // cannot start (then no handler runs).
    Request start(const std::vector<Message> &messages, Handlers handlers, const RequestOptions &options = {}) {
        Request request;
        Result error = try_start(messages, std::move(handlers), options, request);
        if (!error.ok()) throw Error(std::move(error));
        return request;
    }

    // The same with only a token handler: any callable taking std::string_view.
    template <typename OnToken,
              typename = std::enable_if_t<std::is_invocable_v<OnToken &, std::string_view>>>
    Request start(const std::vector<Message> &messages, OnToken &&on_token, const RequestOptions &options = {}) {
        return start(messages, Handlers().token(std::forward<OnToken>(on_token)), options);
    }

    // The same over a conversation (copied when the request starts).
    Request start(const Conversation &conversation, Handlers handlers, const RequestOptions &options = {}) {
        Request request;
        Result error = try_start(nullptr, &conversation, std::move(handlers), options, request);
        if (!error.ok()) throw Error(std::move(error));
        return request;
    }

    // The non-throwing twin of start: the request in `out` and an OK result, or why not.
    Result try_start(const std::vector<Message> &messages, Handlers handlers, const RequestOptions &options,
                     Request &out) {
        return try_start(&messages, nullptr, std::move(handlers), options, out);
    }
    Result try_start(const Conversation &conversation, Handlers handlers, const RequestOptions &options,
                     Request &out) {
        return try_start(nullptr, &conversation, std::move(handlers), options, out);
    }

    // Runs the whole tool loop through the library's agent runner (ylokh_agent_run): sends the
    // conversation with `tools_json` and every tool of `sessions`; each complete call runs the
    // callable in `tools` with its name, or the MCP session that offers it; the assistant turn
    // with calls and each result are appended to `conversation`, and the conversation is sent
    // again, until an answer comes without calls or `max_steps` model turns were made. A tool
    // that throws, or a name `tools` lacks, is an error result the model sees ("Error: " and
    // the what()), not a failed run. The final answer is not appended: it is
    // result.message_json (add_json it to go on). `handlers` see every turn's streaming events
    // (on_tool_call too) on library threads; their on_done runs once, for the whole run, with
    // the last turn's result (token counts summed over the run). Blocks until the run ends.
    // Throws Error when the run fails (the conversation then holds the steps done), or rethrows
    // what a handler threw (it stopped the run). max_steps running out is no error: answered
    // is false. Not from a handler (YLOKH_RECURSIVE_CALL).
    AgentResult run_tools(Conversation &conversation, const std::string &tools_json,
                          const std::map<std::string, Tool> &tools, Handlers handlers = {}, int max_steps = 8,
                          RequestOptions options = {}, const std::vector<McpSession *> &sessions = {});
    // Only MCP sessions' tools (and none of the caller's).
    AgentResult run_tools(Conversation &conversation, const std::vector<McpSession *> &sessions,
                          Handlers handlers = {}, int max_steps = 8, RequestOptions options = {});

    // Streams the answer as a range of tokens (the pull interface); options.tools_json asks for
    // tool calls (Stream::tool_calls()). Throws Error when it cannot start; see Stream for
    // failures on the way.
    Stream stream(const std::vector<Message> &messages, const RequestOptions &options = {}) {
        return stream(conversation_of(messages), options);
    }
    // The same over a conversation (copied when the request starts): a tool loop's history.
    Stream stream(const Conversation &conversation, const RequestOptions &options = {}) {
        ylokh_request *req = nullptr;
        Result error = try_pull(conversation, options, options.stream, req);
        if (!error.ok()) throw Error(std::move(error));
        return Stream(req);
    }

    // The whole answer as one string. Sends `"stream": false` (options.stream is ignored;
    // params_json may still say "stream": true). Throws Error on failure. Not from a handler
    // (YLOKH_RECURSIVE_CALL).
    std::string complete(const std::vector<Message> &messages, const RequestOptions &options = {}) {
        Completion c = try_complete(messages, options);
        if (!c.result.ok()) throw Error(std::move(c.result));
        return std::move(c.text);
    }

    // The non-throwing twin of complete: the text so far, the tool calls and how it ended.
    Completion try_complete(const std::vector<Message> &messages, const RequestOptions &options = {}) {
        std::optional<Conversation> conversation;
        try {
            conversation = conversation_of(messages);
        } catch (const Error &e) {
            return Completion{{}, e.result(), {}};
        }
        return try_complete(*conversation, options);
    }
    Completion try_complete(const Conversation &conversation, const RequestOptions &options = {}) {
        Completion c;
        ylokh_request *req = nullptr;
        c.result = try_pull(conversation, options, false, req);
        if (!c.result.ok()) return c;
        Handle<ylokh_request, ylokh_request_free> owned(req);
        for (;;) {
            ylokh_event event{};
            ylokh_status status = ylokh_request_next(req, UINT64_MAX, &event);
            if (status != YLOKH_OK) {
                c.result = Result::last_error(status);
                return c;
            }
            if (event.kind == YLOKH_EVENT_TOKEN) c.text.append(event.text, event.len);
            if (event.kind == YLOKH_EVENT_TOOL_CALL) {
                if (auto call = OwnedToolCall::from_json(std::string_view(event.text, event.len)))
                    c.tool_calls.push_back(std::move(*call));
            }
            if (event.kind == YLOKH_EVENT_DONE) {
                c.result = Result::from(*event.result);
                return c;
            }
        }
    }

    // Embeddings of `inputs` (libylokh 0.3, ylokh_embed): blocks this thread; `model` none:
    // the client's default; `params_json`: a JSON object merged last into the body. A flat
    // view of the library's buffer, without a copy. Throws Error.
    Embeddings embed_flat(const std::vector<std::string> &inputs, const std::optional<std::string> &model = std::nullopt,
                          const std::optional<std::string> &params_json = std::nullopt) {
        std::vector<const char *> c;
        c.reserve(inputs.size());
        for (const std::string &input : inputs) c.push_back(input.c_str());
        ylokh_embeddings *out = nullptr;
        detail::check(ylokh_embed(client_.get(), detail::c_str_or_null(model), c.data(), c.size(),
                                  detail::c_str_or_null(params_json), &out));
        return Embeddings(out);
    }
    // The same as one std::vector<float> per input, in order.
    std::vector<std::vector<float>> embed(const std::vector<std::string> &inputs,
                                          const std::optional<std::string> &model = std::nullopt,
                                          const std::optional<std::string> &params_json = std::nullopt) {
        Embeddings e = embed_flat(inputs, model, params_json);
        std::vector<std::vector<float>> out;
        out.reserve(e.count());
        for (size_t i = 0; i < e.count(); i++) out.emplace_back(e.row(i), e.row(i) + e.dimensions());
        return out;
    }

    // The C handle (borrowed), valid while this Client lives.
    ylokh_client *get() const noexcept { return client_.get(); }

private:
    explicit Client(ylokh_client *raw) noexcept : client_(raw) {}
    // Every request starts through ylokh_chat_send with its history as a conversation, so
    // whatever a dialect translates (tool calls and results, images, reasoning), C++ gets.
    static Conversation conversation_of(const std::vector<Message> &messages) {
        Conversation c;
        for (const Message &m : messages) c.add(m.role, m.content);
        return c;
    }
    static ylokh_chat_request chat_request(const Conversation &conversation, const RequestOptions &options,
                                           bool stream) {
        ylokh_chat_request req{};
        req.struct_size = sizeof req;
        req.model = detail::c_str_or_null(options.model);
        req.conversation = conversation.get();
        req.tools_json = detail::c_str_or_null(options.tools_json);
        req.params_json = detail::c_str_or_null(options.params_json);
        req.stream = stream;
        return req;
    }
    Result try_start(const std::vector<Message> *messages, const Conversation *conversation, Handlers handlers,
                     const RequestOptions &options, Request &out) {
        std::optional<Conversation> built;
        if (messages) {
            try {
                built = conversation_of(*messages);
            } catch (const Error &e) {
                return e.result();
            }
            conversation = &*built;
        }
        if (!conversation->get()) return detail::moved_from("Conversation");
        auto state = std::make_shared<Request::State>();
        state->handlers = std::move(handlers);
        auto ref = std::make_unique<Request::Ref>(state);
        ylokh_chat_request req = chat_request(*conversation, options, options.stream);
        req.user_data = ref.get();
        const Handlers &h = state->handlers;
        req.on_token = h.on_token ? &Request::on_token : nullptr;
        req.on_reasoning = h.on_reasoning ? &Request::on_reasoning : nullptr;
        req.on_chunk = h.on_chunk ? &Request::on_chunk : nullptr;
        req.on_tool_call_delta = h.on_tool_call_delta ? &Request::on_tool_call_delta : nullptr;
        req.on_tool_call = h.on_tool_call ? &Request::on_tool_call : nullptr;
        req.on_done = &Request::on_done;
        ylokh_request *handle = nullptr;
        ylokh_status status = ylokh_chat_send(client_.get(), &req, &handle);
        if (status != YLOKH_OK) return Result::last_error(status);
        ref.release();  // on_done owns it now
        Request request;
        request.req_.reset(handle);
        request.state_ = std::move(state);
        out = std::move(request);
        return Result{};
    }
    Result try_pull(const Conversation &conversation, const RequestOptions &options, bool stream,
                    ylokh_request *&out) {
        if (!conversation.get()) return detail::moved_from("Conversation");
        ylokh_chat_request req = chat_request(conversation, options, stream);
        req.pull = true;
        ylokh_status status = ylokh_chat_send(client_.get(), &req, &out);
        return status == YLOKH_OK ? Result{} : Result::last_error(status);
    }
    Handle<ylokh_client, ylokh_client_free> client_;
};

// (0.3) What an MCP tool call gave (ylokh_tool_result as values).
struct McpToolResult {
    std::string text;                            // the text content
    bool is_error = false;                       // the server marked the result an error
    std::string content_json;                    // every content block as a chat content part
    std::optional<std::string> structured_json;  // structuredContent, if any
};

// (0.3) An MCP server's tools (ylokh_mcp_session): start one over stdio or reach one over
// Streamable HTTP; list its tools as a chat-format tools array; call one. Move-only; frees
// (and kills a stdio server) on destruction. Throws Error on failure. Blocking: not from a
// request's handler. Destroy it before its Client.
class McpSession {
public:
    static McpSession stdio(Client &client, const std::vector<std::string> &argv,
                            const std::vector<std::string> &env = {}, const std::optional<std::string> &name = {},
                            std::chrono::milliseconds connect_timeout = std::chrono::seconds(30)) {
        std::vector<const char *> a, e;
        for (const auto &s : argv) a.push_back(s.c_str());
        for (const auto &s : env) e.push_back(s.c_str());
        ylokh_mcp_server server{};
        server.struct_size = sizeof server;
        server.name = detail::c_str_or_null(name);
        server.argv = a.data();
        server.argc = a.size();
        server.env = e.data();
        server.n_env = e.size();
        server.connect_timeout_ms = static_cast<uint64_t>(connect_timeout.count());
        return connect(client, server);
    }
    // headers: "Name: value" strings (their values never reach a message or a log record).
    static McpSession http(Client &client, const std::string &url, const std::vector<std::string> &headers = {},
                           const std::optional<std::string> &name = {},
                           std::chrono::milliseconds connect_timeout = std::chrono::seconds(30)) {
        std::vector<const char *> h;
        for (const auto &s : headers) h.push_back(s.c_str());
        ylokh_mcp_server server{};
        server.struct_size = sizeof server;
        server.name = detail::c_str_or_null(name);
        server.url = url.c_str();
        server.headers = h.data();
        server.n_headers = h.size();
        server.connect_timeout_ms = static_cast<uint64_t>(connect_timeout.count());
        return connect(client, server);
    }
    // The tools as a chat-format tools array (names prefixed "PREFIX_" with a prefix).
    std::string tools(const std::optional<std::string> &prefix = {},
                      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
        const char *json = nullptr;
        detail::check(ylokh_mcp_session_tools(s_.get(), detail::c_str_or_null(prefix),
                                              static_cast<uint64_t>(timeout.count()), &json));
        return json;
    }
    // Whether the tool list changed since it was accepted (calls fail until accept_tools()).
    bool tools_changed() { return ylokh_mcp_session_tools_changed(s_.get()); }
    void accept_tools(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
        detail::check(ylokh_mcp_session_accept_tools(s_.get(), static_cast<uint64_t>(timeout.count())));
    }
    // Calls `tool` with a JSON object of arguments. A result the server marks an error is
    // returned (is_error); no answer at all throws Error (YLOKH_TIMEOUT, YLOKH_CONNECT, ...).
    McpToolResult call(const std::string &tool, const std::string &arguments_json = "{}",
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
        ylokh_tool_result *raw = nullptr;
        detail::check(ylokh_mcp_session_call(s_.get(), tool.c_str(), arguments_json.c_str(),
                                             static_cast<uint64_t>(timeout.count()), &raw));
        Handle<ylokh_tool_result, ylokh_tool_result_free> owned(raw);
        const ylokh_tool_result *r = owned.get();
        McpToolResult out;
        out.text.assign(r->text, r->text_len);
        out.is_error = r->is_error;
        out.content_json = r->content_json;
        if (r->structured_json) out.structured_json = std::string(r->structured_json);
        return out;
    }
    ylokh_mcp_session *get() const noexcept { return s_.get(); }

private:
    explicit McpSession(ylokh_mcp_session *s) : s_(s) {}
    static McpSession connect(Client &client, const ylokh_mcp_server &server) {
        ylokh_mcp_session *s = nullptr;
        detail::check(ylokh_mcp_connect(client.get(), &server, &s));
        return McpSession(s);
    }
    Handle<ylokh_mcp_session, ylokh_mcp_session_free> s_;
};

namespace detail {
// What an agent run's C callbacks reach (through a heap reference dropped in on_done, so a run
// that outlives its caller never touches freed memory).
struct AgentState {
    Handlers handlers;
    std::map<std::string, Tool> tools;
    Result result;
    uint32_t steps = 0;  // steps whose calls ran
    std::exception_ptr exception;
    using Ref = std::shared_ptr<AgentState>;
    static AgentState &of(void *user_data) { return **static_cast<Ref *>(user_data); }

    template <typename F>
    static int guard(AgentState &state, F &&f) {
        try {
            f();
            return 0;
        } catch (...) {
            if (!state.exception) state.exception = std::current_exception();
            return 1;
        }
    }
    static int text(void *u, std::function<void(std::string_view)> Handlers::*which, const char *t, size_t n) {
        AgentState &s = of(u);
        return guard(s, [&] { (s.handlers.*which)(std::string_view(t, n)); });
    }
    static int on_token(void *u, const char *t, size_t n) { return text(u, &Handlers::on_token, t, n); }
    static int on_reasoning(void *u, const char *t, size_t n) { return text(u, &Handlers::on_reasoning, t, n); }
    static int on_chunk(void *u, const char *t, size_t n) { return text(u, &Handlers::on_chunk, t, n); }
    static int on_tool_call_delta(void *u, const ylokh_tool_call *c) {
        AgentState &s = of(u);
        return guard(s, [&] { s.handlers.on_tool_call_delta(ToolCall::from(*c)); });
    }
    static int on_tool_call(void *u, const ylokh_tool_call *c) {
        AgentState &s = of(u);
        return guard(s, [&] { s.handlers.on_tool_call(ToolCall::from(*c)); });
    }
    // A tool's exception is the model's error result; only a failed reply stops the run.
    static int on_tool(void *u, const ylokh_tool_call *c, ylokh_tool_reply *reply) {
        AgentState &s = of(u);
        std::string text;
        bool is_error = false;
        std::string name = c->name ? c->name : "";
        auto tool = s.tools.find(name);
        if (tool == s.tools.end()) {
            text = "there is no tool named " + name;
            is_error = true;
        } else {
            try {
                text = tool->second(ToolCall::from(*c).arguments);
            } catch (const std::exception &e) {
                text = e.what();
                is_error = true;
            } catch (...) {
                text = "the tool threw an exception that is not a std::exception";
                is_error = true;
            }
        }
        return ylokh_tool_reply_set(reply, text.c_str(), is_error) == YLOKH_OK ? 0 : 1;
    }
    static int on_step(void *u, uint32_t step, const ylokh_result *) {
        of(u).steps = step;
        return 0;
    }
    static void on_done(void *u, const ylokh_result *r) {
        std::unique_ptr<Ref> ref(static_cast<Ref *>(u));
        AgentState &s = **ref;
        guard(s, [&] {
            s.result = Result::from(*r);
            if (s.handlers.on_done) s.handlers.on_done(s.result);
        });
    }
};
}  // namespace detail

inline AgentResult Client::run_tools(Conversation &conversation, const std::string &tools_json,
                                     const std::map<std::string, Tool> &tools, Handlers handlers, int max_steps,
                                     RequestOptions options, const std::vector<McpSession *> &sessions) {
    auto state = std::make_shared<detail::AgentState>();
    state->handlers = std::move(handlers);
    state->tools = tools;
    std::vector<ylokh_mcp_session *> raw;
    for (McpSession *s : sessions)
        if (s) raw.push_back(s->get());
    ylokh_agent_request req{};
    req.struct_size = sizeof req;
    req.conversation = conversation.get();
    req.model = detail::c_str_or_null(options.model);
    req.tools_json = tools_json.empty() ? nullptr : tools_json.c_str();
    req.params_json = detail::c_str_or_null(options.params_json);
    req.stream = options.stream;
    req.sessions = raw.data();
    req.n_sessions = raw.size();
    req.max_steps = static_cast<uint32_t>(max_steps < 1 ? 1 : max_steps);
    auto ref = std::make_unique<detail::AgentState::Ref>(state);
    req.user_data = ref.get();
    const Handlers &h = state->handlers;
    req.on_token = h.on_token ? &detail::AgentState::on_token : nullptr;
    req.on_reasoning = h.on_reasoning ? &detail::AgentState::on_reasoning : nullptr;
    req.on_chunk = h.on_chunk ? &detail::AgentState::on_chunk : nullptr;
    req.on_tool_call_delta = h.on_tool_call_delta ? &detail::AgentState::on_tool_call_delta : nullptr;
    req.on_tool_call = h.on_tool_call ? &detail::AgentState::on_tool_call : nullptr;
    req.on_tool = &detail::AgentState::on_tool;
    req.on_step = &detail::AgentState::on_step;
    req.on_done = &detail::AgentState::on_done;
    ylokh_agent *run = nullptr;
    detail::check(ylokh_agent_run(client_.get(), &req, &run));
    ref.release();  // on_done owns it now
    Handle<ylokh_agent, ylokh_agent_free> owned(run);
    ylokh_status status = ylokh_agent_wait(run, UINT64_MAX);
    if (status == YLOKH_RECURSIVE_CALL || status == YLOKH_INVALID_ARGUMENT) throw Error(Result::last_error(status));
    if (state->exception) std::rethrow_exception(state->exception);
    AgentResult out;
    out.result = state->result;
    out.answered = out.result.ok();
    out.steps = static_cast<int>(state->steps) + (out.answered ? 1 : 0);
    bool out_of_steps = out.result.status == YLOKH_INCOMPLETE && state->steps == req.max_steps;
    if (!out.answered && !out_of_steps) throw Error(out.result);
    return out;
}

inline AgentResult Client::run_tools(Conversation &conversation, const std::vector<McpSession *> &sessions,
                                     Handlers handlers, int max_steps, RequestOptions options) {
    return run_tools(conversation, std::string(), {}, std::move(handlers), max_steps, std::move(options), sessions);
}

// The library's version, e.g. "0.1.0".
inline const char *version() noexcept { return ylokh_version(); }

}  // namespace ylokh

#endif  // YLOKH_HPP
