// The tool loop against a real model: real_tool_loop BASE_URL chat|responses|messages.
// tests/local_llm.rs runs it against llama-server with the Hermes 2 Pro tool-use template (its
// comment says why step 1 carries an assistant prefill "<tool_call>\n" and a required tool
// choice: the 135M model writes no call otherwise). Everything goes through ylokh.hpp's
// stream() with tools and a Conversation. Prints each step; exit status 0 once an answer
// without calls came after the tool results.
#include "ylokh.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

namespace {

const char *const calc_tool =
    R"([{"type":"function","function":{"name":"calc","description":"Calculate a op b","parameters":{"type":"object",)"
    R"("properties":{"a":{"type":"number"},"op":{"type":"string","enum":["+","-","*","/"]},"b":{"type":"number"}},)"
    R"("required":["a","op","b"]}}}])";
const char *const system_prompt = "You are a helpful assistant. Use the tools.";
const char *const question = "What is 17 times 23? Use the calc tool.";

// The value of "key" in a flat JSON object of numbers and strings (what the grammar makes).
std::string member(const std::string &json, const std::string &key) {
    size_t at = json.find("\"" + key + "\"");
    if (at == std::string::npos) return "";
    at = json.find(':', at);
    if (at == std::string::npos) return "";
    at = json.find_first_not_of(" \t\n", at + 1);
    if (at == std::string::npos) return "";
    if (json[at] == '"') return json.substr(at + 1, json.find('"', at + 1) - at - 1);
    return json.substr(at, json.find_first_of(",} \n", at) - at);
}

std::string run_calc(const std::string &arguments) {
    double a = std::atof(member(arguments, "a").c_str()), b = std::atof(member(arguments, "b").c_str());
    std::string op = member(arguments, "op");
    double r = op == "+" ? a + b : op == "-" ? a - b : op == "*" ? a * b : op == "/" && b != 0 ? a / b : 0;
    char out[64];
    std::snprintf(out, sizeof out, "%g", r);
    return out;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s BASE_URL chat|responses|messages\n", argv[0]);
        return 2;
    }
    std::string name = argv[2];
    ylokh::Api api = name == "responses" ? ylokh::Api::responses : name == "messages" ? ylokh::Api::messages : ylokh::Api::chat;
    auto choice = [&](bool required) -> std::string {
        if (api == ylokh::Api::messages) return required ? R"({"type":"any"})" : R"({"type":"auto"})";
        return required ? "\"required\"" : "\"auto\"";
    };
    try {
        ylokh::Client client(
            ylokh::Options::compatible(argv[1]).api(api).max_retries(0).timeout(std::chrono::seconds(900)));
        ylokh::RequestOptions options;
        options.tools_json = calc_tool;
        options.params_json = "{\"tool_choice\":" + choice(true) + ",\"temperature\":0,\"max_tokens\":128}";
        ylokh::Conversation prefilled;
        prefilled.add("system", system_prompt).add("user", question).add("assistant", "<tool_call>\n");
        ylokh::Stream first = client.stream(prefilled, options);
        for (std::string_view token : first) std::cout << token;
        std::cout << "\nstep 1: " << first.tool_calls().size() << " calls, finish "
                  << first.result().finish_reason.value_or("?") << "\n";
        if (first.tool_calls().empty()) return 1;

        ylokh::Conversation conversation;
        conversation.add("system", system_prompt).add("user", question);
        options.params_json = "{\"tool_choice\":" + choice(false) + ",\"temperature\":0,\"max_tokens\":48}";
        ylokh::Result last = first.result();
        std::vector<ylokh::OwnedToolCall> calls = first.tool_calls();
        for (int step = 2; step <= 4; ++step) {
            conversation.add_json(*last.message_json);
            for (const ylokh::OwnedToolCall &call : calls) {
                std::string result = run_calc(call.arguments);
                std::cout << "  " << call.name << "(" << call.arguments << ") = " << result << "\n";
                conversation.add_tool_result(call.id, result);
            }
            ylokh::Stream next = client.stream(conversation, options);
            std::string text;
            for (std::string_view token : next) text += token;
            std::cout << "step " << step << ": " << next.tool_calls().size() << " calls, finish "
                      << next.result().finish_reason.value_or("?") << ", text: " << text << "\n";
            if (next.tool_calls().empty()) {
                if (text.find_first_not_of(" \n") == std::string::npos) return 1;
                std::cout << "final: " << text << "\n";
                return 0;
            }
            last = next.result();
            calls = next.tool_calls();
        }
        std::cerr << "no final answer within 4 steps\n";
    } catch (const ylokh::Error &e) {
        std::cerr << e.what() << " (HTTP " << e.http_status() << ")\n";
    }
    return 1;
}
