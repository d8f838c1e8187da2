/* Streams the answer to the prompt on the command line to stdout as it arrives; the finish
 * reason and token usage go to stderr. Exit status: 0 on success, 1 when the request failed
 * (with the status and message on stderr), 2 on a usage error.
 *
 * Environment: YLOKH_BASE_URL (none: the Ylokh preset), YLOKH_API_KEY, YLOKH_MODEL, YLOKH_API
 * (chat, responses or messages: the server's wire API; default chat), and
 * YLOKH_PARAMS (a JSON object merged into the request body, e.g. {"max_tokens":64}).
 *
 *   cc -Iinclude examples/chat.c -Ltarget/release -lylokh -o chat
 *   YLOKH_BASE_URL=http://127.0.0.1:8080/v1 ./chat "Why is the sky blue?"
 */
#include "ylokh.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int on_token(void *user_data, const char *text, size_t len) {
    (void)user_data;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0; /* non-zero would stop the request */
}

static void on_done(void *user_data, const ylokh_result *result) {
    ylokh_status *status = user_data;
    *status = result->status;
    printf("\n");
    if (result->status == YLOKH_OK) {
        fprintf(stderr, "finish_reason: %s\n", result->finish_reason ? result->finish_reason : "(none)");
        if (result->total_tokens >= 0)
            fprintf(stderr, "usage: prompt %lld, completion %lld, total %lld\n", (long long)result->prompt_tokens,
                    (long long)result->completion_tokens, (long long)result->total_tokens);
    } else {
        fprintf(stderr, "error: %s: %s\n", ylokh_status_str(result->status), result->message);
    }
}

static int fail(const char *what, ylokh_status status) {
    fprintf(stderr, "error: %s: %s: %s\n", what, ylokh_status_str(status), ylokh_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PROMPT\n", argv[0]);
        return 2;
    }
    const char *base_url = getenv("YLOKH_BASE_URL");
    ylokh_options *opts = base_url && *base_url ? ylokh_options_new_compatible(base_url) : ylokh_options_new();
    if (!opts) return fail("options", YLOKH_INVALID_ARGUMENT);
    ylokh_status s = ylokh_options_set_api_key(opts, getenv("YLOKH_API_KEY"));
    if (s != YLOKH_OK) return fail("api key", s);
    /* YLOKH_API=chat|responses|messages: the server's wire API; nothing else changes. */
    const char *api = getenv("YLOKH_API");
    if (api && *api) {
        s = ylokh_options_set_api(opts, !strcmp(api, "chat")        ? YLOKH_API_CHAT_COMPLETIONS
                                        : !strcmp(api, "responses") ? YLOKH_API_RESPONSES
                                        : !strcmp(api, "messages")  ? YLOKH_API_MESSAGES
                                                                    : 0);
        if (s != YLOKH_OK) return fail("YLOKH_API (chat, responses or messages)", s);
    }

    ylokh_client *client = NULL;
    s = ylokh_client_new(opts, &client);
    ylokh_options_free(opts); /* the client keeps its own copy */
    if (s != YLOKH_OK) return fail("client", s);

    ylokh_message messages[] = {{"user", argv[1]}};
    ylokh_status final = YLOKH_INTERNAL;
    ylokh_callbacks callbacks = {&final, on_token, NULL, NULL, on_done};
    ylokh_request *request = NULL;
    s = ylokh_chat_start(client, getenv("YLOKH_MODEL"), messages, 1, getenv("YLOKH_PARAMS"), true, &callbacks, &request);
    if (s != YLOKH_OK) {
        ylokh_client_free(client);
        return fail("start", s);
    }
    ylokh_request_wait(request, UINT64_MAX); /* returns once on_done has returned */
    ylokh_request_free(request);
    ylokh_client_free(client);
    return final == YLOKH_OK ? 0 : 1;
}
