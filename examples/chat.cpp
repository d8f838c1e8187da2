// The C++17 twin of chat.c: streams the answer to the prompt on the command line to stdout,
// finish reason and usage to stderr; exit 1 with the message on failure, 2 on a usage error.
// RAII through std::unique_ptr with the _free functions as deleters; a capturing lambda
// reaches the C callbacks through a captureless trampoline.
//
// Environment: YLOKH_BASE_URL (none: the Ylokh preset), YLOKH_API_KEY, YLOKH_MODEL, and
// YLOKH_PARAMS (a JSON object merged into the request body, e.g. {"max_tokens":64}).
#include "ylokh.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string_view>

namespace {

struct OptionsDeleter { void operator()(ylokh_options *p) const { ylokh_options_free(p); } };
struct ClientDeleter { void operator()(ylokh_client *p) const { ylokh_client_free(p); } };
struct RequestDeleter { void operator()(ylokh_request *p) const { ylokh_request_free(p); } };
using Options = std::unique_ptr<ylokh_options, OptionsDeleter>;
using Client = std::unique_ptr<ylokh_client, ClientDeleter>;
using Request = std::unique_ptr<ylokh_request, RequestDeleter>;

int fail(const char *what, ylokh_status status) {
    std::cerr << "error: " << what << ": " << ylokh_status_str(status) << ": " << ylokh_last_error() << "\n";
    return 1;
}

// Any two callables (capturing lambdas included) as a request's callbacks: the captureless
// static trampolines below are what C calls, with `this` as user_data.
template <typename OnToken, typename OnDone>
struct Handlers {
    OnToken on_token;
    OnDone on_done;
    static int token(void *self, const char *text, size_t len) {
        return static_cast<Handlers *>(self)->on_token(std::string_view(text, len));
    }
    static void done(void *self, const ylokh_result *result) { static_cast<Handlers *>(self)->on_done(*result); }
    ylokh_callbacks c_callbacks() { return ylokh_callbacks{this, &token, nullptr, nullptr, &done}; }
};
template <typename T, typename D>
Handlers(T, D) -> Handlers<T, D>;

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " PROMPT\n";
        return 2;
    }
    const char *base_url = std::getenv("YLOKH_BASE_URL");
    Options opts(base_url && *base_url ? ylokh_options_new_compatible(base_url) : ylokh_options_new());
    if (!opts) return fail("options", YLOKH_INVALID_ARGUMENT);
    if (ylokh_status s = ylokh_options_set_api_key(opts.get(), std::getenv("YLOKH_API_KEY")); s != YLOKH_OK)
        return fail("api key", s);

    ylokh_client *raw_client = nullptr;
    if (ylokh_status s = ylokh_client_new(opts.get(), &raw_client); s != YLOKH_OK) return fail("client", s);
    Client client(raw_client);

    ylokh_status status = YLOKH_INTERNAL;
    Handlers handlers{
        [](std::string_view text) {
            std::cout << text << std::flush;
            return 0;  // non-zero would stop the request
        },
        [&status](const ylokh_result &result) {
            status = result.status;
            std::cout << "\n";
            if (result.status != YLOKH_OK) {
                std::cerr << "error: " << ylokh_status_str(result.status) << ": " << result.message << "\n";
                return;
            }
            std::cerr << "finish_reason: " << (result.finish_reason ? result.finish_reason : "(none)") << "\n";
            if (result.total_tokens >= 0)
                std::cerr << "usage: prompt " << result.prompt_tokens << ", completion " << result.completion_tokens
                          << ", total " << result.total_tokens << "\n";
        }};
    ylokh_callbacks callbacks = handlers.c_callbacks();

    ylokh_message messages[] = {{"user", argv[1]}};
    ylokh_request *raw_request = nullptr;
    if (ylokh_status s = ylokh_chat_start(client.get(), std::getenv("YLOKH_MODEL"), messages, 1, std::getenv("YLOKH_PARAMS"), true,
                                          &callbacks, &raw_request);
        s != YLOKH_OK)
        return fail("start", s);
    Request request(raw_request);
    ylokh_request_wait(request.get(), UINT64_MAX);  // returns once on_done has returned
    if (status != YLOKH_OK) return 1;
    return 0;
}
