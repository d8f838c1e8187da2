// The C++17 twin of chat.c, on ylokh.hpp: streams the answer to the prompt on the command line
// to stdout, finish reason and usage to stderr; exit 1 with the message on failure, 2 on a
// usage error. The tokens come as a range (the pull interface), so nothing runs on a foreign
// thread.
//
// Environment: YLOKH_BASE_URL (none: the Ylokh preset), YLOKH_API_KEY, YLOKH_MODEL, and
// YLOKH_PARAMS (a JSON object merged into the request body, e.g. {"max_tokens":64}).
#include "ylokh.hpp"

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

namespace {
std::optional<std::string> env(const char *name) {
    const char *value = std::getenv(name);
    return value && *value ? std::optional<std::string>(value) : std::nullopt;
}
}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " PROMPT\n";
        return 2;
    }
    try {
        std::optional<std::string> base_url = env("YLOKH_BASE_URL");
        ylokh::Options options = base_url ? ylokh::Options::compatible(*base_url) : ylokh::Options::ylokh();
        options.api_key(env("YLOKH_API_KEY"));
        ylokh::Client client(options);

        ylokh::RequestOptions request;
        request.model = env("YLOKH_MODEL");
        request.params_json = env("YLOKH_PARAMS");
        ylokh::Stream stream = client.stream({{"user", argv[1]}}, request);
        for (std::string_view token : stream) std::cout << token << std::flush;
        std::cout << "\n";

        const ylokh::Result &result = stream.result();
        std::cerr << "finish_reason: " << result.finish_reason.value_or("(none)") << "\n";
        if (result.usage.total_tokens >= 0)
            std::cerr << "usage: prompt " << result.usage.prompt_tokens << ", completion "
                      << result.usage.completion_tokens << ", total " << result.usage.total_tokens << "\n";
        return 0;
    } catch (const ylokh::Error &e) {
        std::cout << "\n";
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}
