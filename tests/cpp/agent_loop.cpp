// The tool loop of the README, written once in C++ against the loopback server's `agentloop`
// scenario in each wire dialect (chat, responses, messages), which answers 400 the way the real
// API does when the second request is wrong: through Client::stream() with tools, through
// try_complete() with tools, and through run_tools(). agent_loop BASE (http://127.0.0.1:PORT).
// Prints "N passed, M failed" and exits non-zero on any failure.
#include "ylokh.hpp"

#include <cstdio>
#include <cstring>
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

// run_tools: the loop the wrapper runs itself.
void run_tools_loop(const std::string &base, ylokh::Api api) {
    ylokh::Client client = client_for(base, api);
    ylokh::Conversation conversation;
    conversation.add("user", "What is 17 times 23?");
    ylokh::AgentResult r = client.run_tools(conversation, tools_json,
                                            {{"calc", [](std::string_view a) { return calc(std::string(a)); }}});
    CHECK(r.answered && r.steps == 2);
    CHECK(r.result.message_json && r.result.message_json->find(final_text) != std::string::npos);
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
