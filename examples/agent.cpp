// The tool-calling agent of examples/agent.c in C++: ylokh::Client::run_tools runs the loop,
// the tools are lambdas, the streamed text and each call are printed as they come.
// Exit status: 0 with a final answer, 1 on failure or no answer within the step limit, 2 on a
// usage error. Environment as for agent.c: YLOKH_BASE_URL, YLOKH_API_KEY, YLOKH_MODEL,
// YLOKH_PARAMS, YLOKH_MAX_STEPS.
//
//   c++ -std=c++17 -Iinclude examples/agent.cpp -Ltarget/release -lylokh -o agent-cpp
//   YLOKH_BASE_URL=$(examples/local-llm.sh start) ./agent-cpp "What is 17 times 23?"
#include "ylokh.hpp"

#include <cstdlib>
#include <ctime>
#include <iostream>
#include <string>

namespace {

const char *TOOLS = R"([
  {"type":"function","function":{"name":"get_time","description":"The current local date and time.",
   "parameters":{"type":"object","properties":{}}}},
  {"type":"function","function":{"name":"calc","description":"Evaluate a op b for two numbers a and b.",
   "parameters":{"type":"object","properties":{"a":{"type":"number"},"op":{"type":"string","enum":["+","-","*","/"]},
   "b":{"type":"number"}},"required":["a","op","b"]}}}])";

// The number after "key": (a real program would use a JSON library).
double number(std::string_view json, std::string_view key) {
    size_t at = json.find("\"" + std::string(key) + "\"");
    if (at == std::string_view::npos || (at = json.find(':', at)) == std::string_view::npos)
        throw std::invalid_argument("calc needs a and b");
    return std::strtod(std::string(json.substr(at + 1)).c_str(), nullptr);
}

std::string calc(std::string_view args) {
    double a = number(args, "a"), b = number(args, "b");
    size_t at = args.find("\"op\"");
    at = at == std::string_view::npos ? at : args.find('"', args.find(':', at));
    char op = at == std::string_view::npos || at + 1 >= args.size() ? '?' : args[at + 1];
    switch (op) {
    case '+': return std::to_string(a + b);
    case '-': return std::to_string(a - b);
    case '*': return std::to_string(a * b);
    case '/':
        if (b == 0) throw std::invalid_argument("division by zero");
        return std::to_string(a / b);
    default: throw std::invalid_argument("op must be one of + - * /");
    }
}

std::string get_time(std::string_view) {
    char text[64];
    std::time_t now = std::time(nullptr);
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
    return text;
}

const char *env(const char *name) { return std::getenv(name); }

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " \"question\"\n";
        return 2;
    }
    try {
        ylokh::Options options = ylokh::Options::compatible(env("YLOKH_BASE_URL") ? env("YLOKH_BASE_URL") : "http://127.0.0.1:8080/v1");
        if (env("YLOKH_API_KEY")) options.api_key(std::string(env("YLOKH_API_KEY")));
        if (env("YLOKH_MODEL")) options.default_model(std::string(env("YLOKH_MODEL")));
        ylokh::Client client(options);
        ylokh::Conversation conversation;
        conversation.add("system", "You are a helpful assistant. Use the tools when they help.").add("user", argv[1]);
        ylokh::RequestOptions request;
        if (env("YLOKH_PARAMS")) request.params_json = env("YLOKH_PARAMS");
        int max_steps = env("YLOKH_MAX_STEPS") ? std::atoi(env("YLOKH_MAX_STEPS")) : 4;
        ylokh::AgentResult run = client.run_tools(
            conversation, TOOLS, {{"calc", calc}, {"get_time", get_time}},
            ylokh::Handlers()
                .token([](std::string_view t) { std::cout << t << std::flush; })
                .tool_call([](const ylokh::ToolCall &c) {
                    std::cout << "\n[tool call " << c.id << "] " << c.name << "(" << c.arguments << ")\n";
                }),
            max_steps, request);
        std::cout << "\n--- " << (run.answered ? "final answer" : "no final answer") << " after " << run.steps
                  << " step" << (run.steps == 1 ? "" : "s") << "\n";
        return run.answered ? 0 : 1;
    } catch (const ylokh::Error &e) {
        std::cerr << "\nerror: " << e.what() << "\n";
        return 1;
    }
}
