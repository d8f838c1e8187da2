// ylokh.hpp against the loopback test server: api_test BASE (e.g. http://127.0.0.1:PORT).
// Prints "N passed, M failed" and exits non-zero on any failure.
#include "ylokh.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <type_traits>

namespace {

int passed = 0, failed = 0;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            ++passed;                                                                 \
        } else {                                                                      \
            ++failed;                                                                 \
            std::fprintf(stderr, "FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
        }                                                                             \
    } while (0)

std::string base;
const std::vector<ylokh::Message> hello = {{"system", "Be brief."}, {"user", "Say hello in three languages."}};

ylokh::Client client_for(const std::string &scenario) {
    return ylokh::Client(ylokh::Options::compatible(base + "/" + scenario + "/v1").max_retries(0));
}

// Compile-time shape: move-only handles, string_view tokens.
static_assert(!std::is_copy_constructible_v<ylokh::Client> && std::is_move_constructible_v<ylokh::Client>);
static_assert(!std::is_copy_constructible_v<ylokh::Request> && std::is_move_assignable_v<ylokh::Request>);
static_assert(!std::is_copy_constructible_v<ylokh::Options> && std::is_move_constructible_v<ylokh::Options>);
static_assert(std::is_same_v<ylokh::Stream::iterator::value_type, std::string_view>);
// One Handle for every class: move-only, moves that cannot throw.
template <typename T>
constexpr bool move_only_nothrow = !std::is_copy_constructible_v<T> && !std::is_copy_assignable_v<T> &&
                                   std::is_nothrow_move_constructible_v<T> && std::is_nothrow_move_assignable_v<T>;
static_assert(move_only_nothrow<ylokh::Handle<ylokh_conversation, ylokh_conversation_free>>);
static_assert(move_only_nothrow<ylokh::Options> && move_only_nothrow<ylokh::Client>);
static_assert(move_only_nothrow<ylokh::Conversation> && move_only_nothrow<ylokh::Request>);
static_assert(move_only_nothrow<ylokh::Stream> && move_only_nothrow<ylokh::Embeddings>);
static_assert(move_only_nothrow<ylokh::McpSession>);

// Whether `f` throws ylokh::Error with YLOKH_INVALID_ARGUMENT (what a call on a moved-from
// object does, as the C function does on NULL).
template <typename F>
bool refused(F &&f) {
    try {
        f();
        return false;
    } catch (const ylokh::Error &e) {
        return e.status() == YLOKH_INVALID_ARGUMENT && !e.message().empty();
    }
}

void options() {
    // Fluent on a temporary, kept in a variable, and on an lvalue.
    auto opts = ylokh::Options::compatible(base + "/stream/v1").max_retries(1).timeout(std::chrono::seconds(30));
    opts.read_timeout(std::chrono::milliseconds(5000)).header("X-Test", "1").api_key("sk-secret");
    opts.first_token_timeout(std::chrono::milliseconds(20000)).resume(true);
    try {
        ylokh::Options::compatible("not a url");
        CHECK(false);
    } catch (const ylokh::Error &e) {
        CHECK(e.status() == YLOKH_INVALID_ARGUMENT);
        CHECK(std::strstr(e.what(), "YLOKH_INVALID_ARGUMENT: ") == e.what());
        CHECK(!e.message().empty());
    }
    try {
        opts.header("X-Bad", "a\r\nb");
        CHECK(false);
    } catch (const ylokh::Error &e) {
        CHECK(e.status() == YLOKH_INVALID_ARGUMENT);
    }
    ylokh::Result error;
    auto client = ylokh::Client::try_create(opts, error);
    CHECK(client.has_value() && error.ok());
    CHECK(std::string(ylokh::version()) == "0.3.0");
}

std::string streamed_with_handlers(ylokh::Client &client) {
    std::string text;
    std::atomic<int> done{0};
    std::thread::id caller = std::this_thread::get_id();
    bool other_thread = true;
    ylokh::Request req = client.start(hello, ylokh::Handlers()
                                                 .token([&](std::string_view token) {
                                                     text += token;
                                                     other_thread = other_thread && std::this_thread::get_id() != caller;
                                                 })
                                                 .done([&](const ylokh::Result &r) {
                                                     done++;
                                                     CHECK(r.ok());
                                                 }));
    ylokh::Result r = req.wait();
    CHECK(r.ok() && r.finish_reason.has_value());
    CHECK(done == 1 && other_thread);
    return text;
}

void answers_agree() {
    std::string whole = client_for("nonstream").complete(hello);
    CHECK(!whole.empty());

    ylokh::Client client = client_for("stream");
    std::string pulled;
    ylokh::Stream stream = client.stream(hello);
    for (std::string_view token : stream) pulled += token;
    CHECK(stream.result().ok());
    CHECK(stream.result().finish_reason.has_value());
    // Timings: the client's own, and llama.cpp's from its last chunk.
    const ylokh::Result &timed = stream.result();
    CHECK(timed.ttfb_ms >= 0 && timed.ttft_ms >= timed.ttfb_ms && timed.duration_ms >= timed.ttft_ms);
    CHECK(timed.tokens_per_s > 0 && timed.retries == 0 && timed.resumes == 0);
    CHECK(timed.server_timings_json && timed.server_timings_json->find("\"predicted_n\":48") != std::string::npos);
    CHECK(pulled == whole);
    CHECK(streamed_with_handlers(client) == whole);

    ylokh::Completion c = client_for("nonstream").try_complete(hello);
    CHECK(c.result.ok() && c.text == whole && c.result.usage.total_tokens > 0);
}

void failures() {
    ylokh::Client client = client_for("503always");
    try {
        client.complete(hello);
        CHECK(false);
    } catch (const ylokh::Error &e) {
        CHECK(e.status() == YLOKH_HTTP_STATUS && e.http_status() == 503);
    }
    ylokh::Completion c = client.try_complete(hello);
    CHECK(c.result.status == YLOKH_HTTP_STATUS && c.result.http_status == 503 && !c.result.message.empty());
    CHECK(!c.result && std::string(c.result.status_name()) == "YLOKH_HTTP_STATUS");

    ylokh::Stream stream = client.stream(hello);
    try {
        for (std::string_view token : stream) (void)token;
        CHECK(false);
    } catch (const ylokh::Error &e) {
        CHECK(e.status() == YLOKH_HTTP_STATUS);
    }
    CHECK(stream.result().http_status == 503);

    ylokh::Request req = client.start(hello, {});
    ylokh::Result r = req.try_wait();
    CHECK(r.status == YLOKH_HTTP_STATUS && r.http_status == 503);
}

struct Stop {};

void handler_exceptions_stop_the_request() {
    ylokh::Client client = client_for("trickle");
    int tokens = 0;
    // Any callable as the token handler.
    ylokh::Request req = client.start(hello, [&](std::string_view) {
        if (++tokens == 3) throw Stop{};
    });
    try {
        req.wait();
        CHECK(false);
    } catch (const Stop &) {
        CHECK(tokens == 3);
    }
    CHECK(req.try_wait().status == YLOKH_ABORTED);
}

void cancel_and_lifetimes() {
    ylokh::Client client = client_for("trickle");
    // Cancel from another thread, then wait.
    ylokh::Request req = client.start(hello, {});
    std::thread([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        req.cancel();
    }).join();
    try {
        req.wait();
        CHECK(false);
    } catch (const ylokh::Error &e) {
        CHECK(e.status() == YLOKH_CANCELLED);
    }
    // A still-running request dropped, moved over, or outliving its client: no crash, no leak.
    {
        ylokh::Request a = client.start(hello, [](std::string_view) {});
        ylokh::Request b = client.start(hello, {});
        a = std::move(b);
        CHECK(b.get() == nullptr && a.get() != nullptr);
        CHECK(b.try_wait().status == YLOKH_INVALID_ARGUMENT);
        CHECK(a.try_wait(std::chrono::milliseconds(10)).status == YLOKH_PENDING);
    }
    ylokh::Request outliving;
    {
        ylokh::Client doomed = client_for("trickle");
        outliving = doomed.start(hello, {});
    }
    CHECK(outliving.try_wait().status == YLOKH_CANCELLED);

    // A stream cancelled mid-way ends with YLOKH_CANCELLED.
    ylokh::Stream stream = client.stream(hello);
    int n = 0;
    try {
        for (std::string_view token : stream) {
            CHECK(!token.empty());
            if (++n == 2) stream.cancel();
        }
        CHECK(false);
    } catch (const ylokh::Error &e) {
        CHECK(e.status() == YLOKH_CANCELLED);
    }
    CHECK(n >= 2);
    // Moving a client keeps its requests working.
    ylokh::Client moved = std::move(client);
    CHECK(client.get() == nullptr);
    ylokh::Request after_move = moved.start(hello, {});
    after_move.cancel();
    CHECK(after_move.try_wait().status == YLOKH_CANCELLED);
}

const char *CALC_TOOLS =
    R"([{"type":"function","function":{"name":"calc","parameters":{"type":"object"}}}])";

void tools_and_conversations() {
    // Streamed tool-call pieces and the complete call, with string_view fields.
    ylokh::Client client = client_for("replay3-tools.textandtools");
    std::string args, id, reasoning;
    int deltas = 0;
    ylokh::Result r = client
                          .start(hello, ylokh::Handlers()
                                            .reasoning([&](std::string_view t) { reasoning += t; })
                                            .tool_call_delta([&](const ylokh::ToolCall &) { ++deltas; })
                                            .tool_call([&](const ylokh::ToolCall &c) {
                                                id = c.id;
                                                args = c.arguments;
                                                CHECK(c.name == "get_time" && c.arguments_valid && c.index == 0);
                                            }))
                          .wait();
    CHECK(deltas == 2 && id == "call_t" && args == "{}" && !reasoning.empty());
    CHECK(r.n_tool_calls == 1 && r.message_json && r.message_json->find("\"tool_calls\"") != std::string::npos);

    // A conversation, RAII and fluent; bad input throws and changes nothing.
    ylokh::Conversation conv;
    conv.add("system", "Be brief.").add("user", "quote \" and emoji 🦀");
    CHECK(conv.size() == 2 && conv.json().find("🦀") != std::string_view::npos);
    {
        // A moved-from conversation is empty: json() is "", not a string_view of NULL (UB).
        ylokh::Conversation from;
        from.add("user", "x");
        ylokh::Conversation to(std::move(from));
        CHECK(from.json().empty() && from.size() == 0 && to.size() == 1);
    }
    try {
        conv.add_json("[1]");
        CHECK(false);
    } catch (const ylokh::Error &e) {
        CHECK(e.status() == YLOKH_INVALID_ARGUMENT);
    }
    CHECK(conv.size() == 2);
    conv.truncate(1);
    CHECK(conv.size() == 1);
    ylokh::Conversation moved = std::move(conv);
    CHECK(moved.size() == 1);

    // run_tools against the recorded two-step exchange: the call runs the callable, its
    // result goes back under the call's id, and the final answer ends the loop.
    ylokh::Conversation agent;
    agent.add("user", "What is 17 times 23?");
    std::string seen_args, text;
    ylokh::Client loop = client_for("toolloop");
    ylokh::AgentResult run = loop.run_tools(
        agent, CALC_TOOLS,
        {{"calc",
          [&](std::string_view arguments) {
              seen_args = arguments;
              return std::string("391");
          }}},
        ylokh::Handlers().token([&](std::string_view t) { text += t; }), 4);
    CHECK(run.answered && run.steps == 2 && run.result.ok());
    CHECK(seen_args == R"({"a": 17, "op": "*", "b": 23})");
    CHECK(text.find("17 times 23 is 391.") != std::string::npos);
    CHECK(agent.size() == 3);  // user, assistant with the call, tool result (not the answer)
    CHECK(agent.json().find(R"("tool_call_id":"call_calc_1")") != std::string_view::npos);

    // A model that keeps calling: the step limit ends it, not answered.
    ylokh::Conversation endless;
    endless.add("user", "loop");
    ylokh::Client calls_forever = client_for("replay3-tools.loop-step1");
    ylokh::AgentResult limited =
        calls_forever.run_tools(endless, CALC_TOOLS, {{"calc", [](std::string_view) -> std::string {
                                                           throw std::runtime_error("no");
                                                       }}},
                                {}, 2);
    CHECK(!limited.answered && limited.steps == 2);
    CHECK(endless.json().find("Error: no") != std::string_view::npos);  // the runner's prefix
}

void dialects() {
    // The same handlers over the Messages API: only the option changes.
    ylokh::Client client(
        ylokh::Options::compatible(base + "/replay3-dialects.messages-tools/v1").max_retries(0).api(ylokh::Api::messages));
    std::string text;
    int calls = 0;
    ylokh::Result r = client
                          .start(hello, ylokh::Handlers()
                                            .token([&](std::string_view t) { text += t; })
                                            .tool_call([&](const ylokh::ToolCall &c) {
                                                calls += c.name == "get_weather" && c.arguments_valid;
                                            }))
                          .wait();
    CHECK(r.ok() && text == "Checking both cities." && calls == 2 && r.n_tool_calls == 2);
    CHECK(r.finish_reason == std::optional<std::string>("tool_calls") && r.usage.prompt_tokens == 472);
    try {
        ylokh::Options::compatible(base).api(static_cast<ylokh::Api>(9));
        CHECK(false);
    } catch (const ylokh::Error &e) {
        CHECK(e.status() == YLOKH_INVALID_ARGUMENT);
    }
}

// Every accessor of a moved-from object is defined: queries answer empty, calls throw Error
// (the sanitizers would catch a NULL dereference or a string_view of NULL).
void moved_from_objects() {
    ylokh::Handle<ylokh_conversation, ylokh_conversation_free> h(ylokh_conversation_new());
    ylokh::Handle<ylokh_conversation, ylokh_conversation_free> h2(std::move(h));
    CHECK(!h && h.get() == nullptr && h2 && h.release() == nullptr);
    h = std::move(h2);
    CHECK(h && !h2);
    ylokh_conversation *raw = h.release();
    CHECK(raw != nullptr && !h);
    h.reset(raw);
    CHECK(h.get() == raw);

    ylokh::Options opts = ylokh::Options::compatible(base + "/stream/v1");
    ylokh::Options opts_to = std::move(opts);
    CHECK(opts.get() == nullptr && opts_to.get() != nullptr);
    CHECK(refused([&] { opts.max_retries(1); }));
    CHECK(refused([&] { ylokh::Client c(opts); }));
    ylokh::Result why;
    CHECK(!ylokh::Client::try_create(opts, why) && why.status == YLOKH_INVALID_ARGUMENT);

    ylokh::Client client(opts_to);
    ylokh::Client client_to = std::move(client);
    CHECK(client.get() == nullptr && client_to.get() != nullptr);
    CHECK(refused([&] { client.start(hello, {}); }));
    CHECK(refused([&] { client.stream(hello); }));
    CHECK(refused([&] { client.complete(hello); }));
    CHECK(client.try_complete(hello).result.status == YLOKH_INVALID_ARGUMENT);
    CHECK(refused([&] { client.embed_flat({"x"}); }));
    ylokh::Conversation agent;
    agent.add("user", "hi");
    CHECK(refused([&] { client.run_tools(agent, std::vector<ylokh::McpSession *>{}); }));

    ylokh::Conversation conv;
    conv.add("user", "x");
    ylokh::Conversation conv_to;
    conv_to = std::move(conv);
    CHECK(conv.get() == nullptr && conv.size() == 0 && conv.json().empty() && conv_to.size() == 1);
    CHECK(refused([&] { conv.add("user", "y"); }));
    CHECK(refused([&] { conv.add_json(R"({"role":"user","content":"y"})"); }));
    CHECK(refused([&] { conv.add_tool_result("call_1", "y"); }));
    CHECK(refused([&] { conv.truncate(0); }));
    CHECK(refused([&] { client_to.start(conv, {}); }));
    CHECK(refused([&] { client_to.stream(conv); }));
    CHECK(client_to.try_complete(conv).result.status == YLOKH_INVALID_ARGUMENT);
    CHECK(refused([&] { client_to.run_tools(conv, std::vector<ylokh::McpSession *>{}); }));

    ylokh::Request req = client_to.start(hello, {});
    ylokh::Request req_to = std::move(req);
    req.cancel();
    CHECK(req.get() == nullptr && req.try_wait().status == YLOKH_INVALID_ARGUMENT);
    CHECK(refused([&] { req.wait(); }));
    CHECK(req_to.wait().ok());

    ylokh::Stream stream = client_to.stream(hello);
    ylokh::Stream stream_to = std::move(stream);
    stream.cancel();
    std::string_view token;
    CHECK(refused([&] { stream.begin(); }));
    CHECK(refused([&] { stream.try_next(token); }));
    CHECK(refused([&] { stream.fd(); }));
    CHECK(!stream.done() && stream.reasoning().empty() && stream.tool_calls().empty());
    std::string text;
    for (std::string_view t : stream_to) text += t;
    CHECK(!text.empty() && stream_to.result().ok());

    ylokh::Client emb = client_for("emb");
    ylokh::Embeddings e = emb.embed_flat({"x"});
    ylokh::Embeddings e_to = std::move(e);
    CHECK(e.get() == nullptr && e.count() == 0 && e.dimensions() == 0 && e.data() == nullptr);
    CHECK(e.row(0) == nullptr && e.prompt_tokens() == -1 && e.model().empty());
    CHECK(e_to.count() == 1 && e_to.dimensions() == 4);
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    base = argv[1];
    try {
        options();
        answers_agree();
        failures();
        handler_exceptions_stop_the_request();
        cancel_and_lifetimes();
        tools_and_conversations();
        dialects();
        moved_from_objects();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "unexpected exception: %s\n", e.what());
        ++failed;
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
