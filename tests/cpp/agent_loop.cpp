// The tool loop of the README, written once in C++ against the loopback server's `agentloop`
// scenario in each wire dialect (chat, responses, messages), which answers 400 the way the real
// API does when the second request is wrong: through Client::stream() with tools, through
// try_complete() with tools, and through run_tools() (the library's agent runner), with a C++ tool
// and with the fake MCP server's. agent_loop BASE (http://127.0.0.1:PORT) [FAKE_MCP_SERVER].
// Prints "N passed, M failed" and exits non-zero on any failure.
#include "ylokh.hpp"

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace {

int passed = 0, failed = 0;

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (cond) {                                                                \
            ++passed;                                                              \
        } else {                                                                   \
            ++failed;                                                              \
            std::fprintf(stderr, "FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                          \
    } while (0)

const char *const tools_json =
    R"([{"type":"function","function":{"name":"calc","description":"Computes a op b.",)"
    R"("parameters":{"type":"object","properties":{"a":{"type":"number"},"op":{"type":"string"},)"
    R"("b":{"type":"number"}},"required":["a","op","b"]}}}])";
const char *const final_text = "The answer: 17 times 23 is 391.";

// The tool: it takes the arguments as the model wrote them (this test needs no JSON library:
// it checks the text and answers the one question).
std::string calc(const std::string &arguments) {
    bool asked = arguments.find("17") != std::string::npos && arguments.find("23") != std::string::npos &&
                 arguments.find("\"*\"") != std::string::npos;
    return asked ? "391" : "error: unexpected arguments " + arguments;
}

ylokh::Client client_for(const std::string &base, ylokh::Api api) {
    return ylokh::Client(ylokh::Options::compatible(base + "/agentloop/v1").api(api).max_retries(0));
}

// The loop over stream(): tokens as they come; the assistant turn and the results added after.
void stream_loop(const std::string &base, ylokh::Api api) {
    ylokh::Client client = client_for(base, api);
    ylokh::Conversation conversation;
    conversation.add("system", "Use the calc tool.").add("user", "What is 17 times 23?");
    ylokh::RequestOptions options;
    options.tools_json = tools_json;
    int steps = 0;
    std::string text;
    for (; steps < 4; ++steps) {
        ylokh::Stream stream = client.stream(conversation, options);
        text.clear();
        for (std::string_view token : stream) text += token;
        CHECK(stream.result().ok() && stream.result().message_json.has_value());
        conversation.add_json(*stream.result().message_json);
        if (stream.tool_calls().empty()) break;
        for (const ylokh::OwnedToolCall &call : stream.tool_calls()) {
            CHECK(call.name == "calc");
            conversation.add_tool_result(call.id, calc(call.arguments));
        }
    }
    CHECK(steps == 1);  // the second request (index 1) was the last
    CHECK(text == final_text);
    CHECK(conversation.size() == 5);  // system, user, assistant + call, result, answer
}

// The same loop over try_complete() (a whole, non-streamed answer each step).
void complete_loop(const std::string &base, ylokh::Api api) {
    ylokh::Client client = client_for(base, api);
    ylokh::Conversation conversation;
    conversation.add("user", "What is 17 times 23?");
    ylokh::RequestOptions options;
    options.tools_json = tools_json;
    ylokh::Completion c = client.try_complete(conversation, options);
    CHECK(c.result.ok() && c.result.finish_reason == std::optional<std::string>("tool_calls"));
    CHECK(c.tool_calls.size() == 1 && c.text == "Let me compute that.");
    if (!c.result.ok() || c.tool_calls.empty()) return;
    conversation.add_json(*c.result.message_json);
    conversation.add_tool_result(c.tool_calls[0].id, calc(c.tool_calls[0].arguments));
    c = client.try_complete(conversation, options);
    CHECK(c.result.ok() && c.tool_calls.empty() && c.text == final_text);
    if (!c.result.ok()) std::fprintf(stderr, "  %s\n", c.result.message.c_str());
}

// run_tools: the loop the library's agent runner runs (ylokh_agent_run): the tool runs on the
// run's thread, the conversation gets the turn with the call and the result (not the final
// answer), handlers see every turn's tokens and one on_done for the whole run.
void run_tools_loop(const std::string &base, ylokh::Api api) {
    ylokh::Client client = client_for(base, api);
    ylokh::Conversation conversation;
    conversation.add("user", "What is 17 times 23?");
    int done = 0, calls = 0;
    std::string text;
    ylokh::AgentResult r = client.run_tools(
        conversation, tools_json, {{"calc", [](std::string_view a) { return calc(std::string(a)); }}},
        ylokh::Handlers()
            .token([&](std::string_view t) { text += t; })
            .tool_call([&](const ylokh::ToolCall &c) { calls += c.name == "calc"; })
            .done([&](const ylokh::Result &) { ++done; }));
    CHECK(r.answered && r.steps == 2 && r.result.ok());
    CHECK(r.result.message_json && r.result.message_json->find(final_text) != std::string::npos);
    CHECK(done == 1 && calls == 1);
    CHECK(text == std::string("Let me compute that.") + final_text);
    CHECK(conversation.size() == 3);  // user, assistant + call, result
    CHECK(conversation.json().find(R"("content":"391")") != std::string::npos);

    // A tool that throws: the model sees "Error: " and the what(); the run goes on.
    ylokh::Conversation failing;
    failing.add("user", "What is 17 times 23?");
    ylokh::AgentResult e = client.run_tools(
        failing, tools_json, {{"calc", [](std::string_view) -> std::string { throw std::runtime_error("boom"); }}});
    CHECK(e.answered && e.result.message_json &&
          e.result.message_json->find("17 times 23 is Error: boom.") != std::string::npos);

    // max_steps 1: the call runs, then no answer (no exception); the result is in the history.
    ylokh::Conversation short_run;
    short_run.add("user", "What is 17 times 23?");
    ylokh::AgentResult s = client.run_tools(
        short_run, tools_json, {{"calc", [](std::string_view a) { return calc(std::string(a)); }}}, {}, 1);
    CHECK(!s.answered && s.steps == 1 && s.result.status == YLOKH_INCOMPLETE && short_run.size() == 3);

    // A handler that throws stops the run; run_tools rethrows it.
    ylokh::Conversation thrown;
    thrown.add("user", "What is 17 times 23?");
    try {
        client.run_tools(thrown, tools_json, {}, ylokh::Handlers().token([](std::string_view) {
            throw std::logic_error("handler");
        }));
        CHECK(false);
    } catch (const std::logic_error &x) {
        CHECK(std::string(x.what()) == "handler");
    }
}

// run_tools with an MCP session: the fake MCP server (tests/mcp/fake_server.c) offers `calc`,
// and the runner calls it there; the caller gives no tool of its own.
void run_tools_mcp(const std::string &base, ylokh::Api api, const std::string &fake_server) {
    ylokh::Client client = client_for(base, api);
    ylokh::McpSession session = ylokh::McpSession::stdio(client, {fake_server}, {}, "fake");
    ylokh::Conversation conversation;
    conversation.add("user", "What is 17 times 23?");
    ylokh::AgentResult r = client.run_tools(conversation, {&session});
    CHECK(r.answered && r.steps == 2);
    CHECK(r.result.message_json && r.result.message_json->find(final_text) != std::string::npos);
    // Beside a caller's tool of the same name, the session's becomes fake_calc: the model's
    // `calc` goes to the caller's.
    ylokh::Conversation both;
    both.add("user", "What is 17 times 23?");
    int mine = 0;
    ylokh::AgentResult b = client.run_tools(
        both, tools_json, {{"calc", [&](std::string_view) { ++mine; return std::string("391"); }}}, {}, 8, {},
        {&session});
    CHECK(b.answered && mine == 1);
}

// Without the tools, the server refuses (its 400, as the API's): stream() once dropped them.
void tools_reach_the_server(const std::string &base, ylokh::Api api) {
    ylokh::Client client = client_for(base, api);
    ylokh::Stream stream = client.stream({{"user", "What is 17 times 23?"}});
    try {
        for (std::string_view token : stream) (void)token;
        CHECK(false);
    } catch (const ylokh::Error &e) {
        CHECK(e.http_status() == 400);
    }
    ylokh::RequestOptions options;
    options.tools_json = tools_json;
    ylokh::Stream with_tools = client.stream({{"user", "What is 17 times 23?"}}, options);
    std::string text;
    for (std::string_view token : with_tools) text += token;
    CHECK(text == "Let me compute that." && with_tools.tool_calls().size() == 1);
    ylokh::Completion c = client.try_complete({{"user", "What is 17 times 23?"}}, options);
    CHECK(c.result.ok() && c.tool_calls.size() == 1);
}

void tool_call_json() {
    auto call = ylokh::OwnedToolCall::from_json(
        R"({"index":2,"id":"call_\u00e9\"x","type":"function","extra_content":{"google":{"a":[1,{"b":null}]}},)"
        R"("function":{"name":"w\u00f6rld","arguments":"{\"s\":\"\\ud83d\\ude00\\n\"}"}})");
    CHECK(call.has_value());
    if (!call) return;
    CHECK(call->index == 2);
    CHECK(call->id == "call_\xc3\xa9\"x");
    CHECK(call->name == "w\xc3\xb6rld");
    CHECK(call->arguments == "{\"s\":\"\\ud83d\\ude00\\n\"}");
    auto emoji = ylokh::OwnedToolCall::from_json(R"({"id":"\ud83d\ude00","function":{"name":"n","arguments":"{}"}})");
    CHECK(emoji && emoji->id == "\xf0\x9f\x98\x80");
    CHECK(!ylokh::OwnedToolCall::from_json(R"({"id":"unterminated)"));
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    std::string base = argv[1];
    try {
        tool_call_json();
        for (ylokh::Api api : {ylokh::Api::chat, ylokh::Api::responses, ylokh::Api::messages}) {
            int before = failed;
            stream_loop(base, api);
            complete_loop(base, api);
            run_tools_loop(base, api);
            if (argc > 2) run_tools_mcp(base, api, argv[2]);
            tools_reach_the_server(base, api);
            std::printf("api %u: %s\n", static_cast<unsigned>(api), failed == before ? "ok" : "FAILED");
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "unexpected exception: %s\n", e.what());
        ++failed;
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
