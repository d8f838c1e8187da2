// The tool loop written once in C++ over ylokh.hpp: stream an answer with the tools, add the
// assistant's message_json (which keeps the reasoning and each call's extras the server needs
// back) with add_json and each call's result with add_tool_result, ask again, until an answer
// without calls. tests/cpp_api.rs runs it against each provider of issue 20's table
// (tests/support/providers.rs).
//
//     weather_loop BASE_URL [API [MODEL]]      (API: chat, responses or messages)
//
// YLOKH_PARAMS: default body keys (a JSON object). Prints each step and the final text; exits
// non-zero on any error.
#include "ylokh.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

const char *const tools_json =
    R"([{"type":"function","function":{"name":"get_weather","description":"Weather of a city",)"
    R"("parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}])";

// The tool takes the arguments as the model wrote them (no JSON library here).
std::string get_weather(const std::string &arguments) {
    return arguments.find("\"Paris\"") != std::string::npos ? "18\xc2\xb0" "C, sunny" : "no weather for " + arguments;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s BASE_URL [chat|responses|messages [MODEL]]\n", argv[0]);
        return 2;
    }
    std::string api_name = argc > 2 ? argv[2] : "chat";
    ylokh::Api api = api_name == "responses"  ? ylokh::Api::responses
                     : api_name == "messages" ? ylokh::Api::messages
                                              : ylokh::Api::chat;
    const char *params = std::getenv("YLOKH_PARAMS");
    try {
        ylokh::Options options = ylokh::Options::compatible(argv[1]).api(api).api_key("sk-test").max_retries(0);
        if (argc > 3) options.default_model(argv[3]);
        if (params && *params) options.default_params(params);
        ylokh::Client client(options);
        ylokh::Conversation conversation;
        conversation.add("user", "Weather in Paris?");
        ylokh::RequestOptions request;
        request.tools_json = tools_json;
        for (int step = 1; step <= 4; ++step) {
            ylokh::Stream stream = client.stream(conversation, request);
            std::string text;
            for (std::string_view token : stream) text += token;
            if (!stream.result().message_json) {
                std::fprintf(stderr, "no message_json\n");
                return 1;
            }
            conversation.add_json(*stream.result().message_json);
            if (stream.tool_calls().empty()) {
                std::printf("--- final answer after %d steps:\n%s\n", step, text.c_str());
                return 0;
            }
            for (const ylokh::OwnedToolCall &call : stream.tool_calls()) {
                std::string output = get_weather(call.arguments);
                std::printf("[tool call %s] %s(%s) -> %s\n", call.id.c_str(), call.name.c_str(), call.arguments.c_str(),
                            output.c_str());
                conversation.add_tool_result(call.id, output);
            }
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    std::fprintf(stderr, "no final answer after 4 steps\n");
    return 1;
}
