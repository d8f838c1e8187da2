/* Streams an answer on a libuv loop (what Node.js and many servers run), on the loop's own
 * thread: the request's descriptor (ylokh_request_fd) is watched with a uv_poll_t; when it is
 * readable the callback takes the request's events with ylokh_request_next(req, 0, &ev) until
 * YLOKH_PENDING. On DONE the poll handle is closed, and the loop, with nothing left, returns.
 *
 * Usage: uv PROMPT. The answer goes to stdout as it arrives; stderr gets "finish_reason: ...".
 * Exit status: 0 on success, 1 when the request failed, 2 on a usage error.
 * Environment: YLOKH_BASE_URL, YLOKH_API_KEY, YLOKH_MODEL, YLOKH_PARAMS, as examples/chat.c.
 *
 *   cc -Iinclude examples/uv.c $(pkg-config --cflags --libs libuv) -Ltarget/release -lylokh -o uv
 */
#define _GNU_SOURCE /* libuv's headers need the POSIX types that -std=c11 hides */
#include "ylokh.h"

#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

typedef struct app {
    uv_poll_t poll; /* first: the handle's address is the app's */
    ylokh_request *req;
    ylokh_status status;
} app;

static void on_ready(uv_poll_t *handle, int status, int events) {
    (void)events;
    app *a = (app *)handle;
    if (status < 0) {
        fprintf(stderr, "error: uv_poll: %s\n", uv_strerror(status));
        uv_close((uv_handle_t *)handle, NULL);
        return;
    }
    ylokh_event ev;
    while (ylokh_request_next(a->req, 0, &ev) == YLOKH_OK) {
        if (ev.kind == YLOKH_EVENT_TOKEN) {
            fwrite(ev.text, 1, ev.len, stdout);
            fflush(stdout);
        } else if (ev.kind == YLOKH_EVENT_DONE) {
            a->status = ev.result->status;
            printf("\n");
            if (a->status == YLOKH_OK)
                fprintf(stderr, "finish_reason: %s\n", ev.result->finish_reason ? ev.result->finish_reason : "(none)");
            else
                fprintf(stderr, "error: %s: %s\n", ylokh_status_str(a->status), ev.result->message);
            /* Stop watching before the request (and its descriptor) is freed. */
            uv_poll_stop(handle);
            uv_close((uv_handle_t *)handle, NULL);
            return;
        }
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
    ylokh_client *client = NULL;
    s = ylokh_client_new(opts, &client);
    ylokh_options_free(opts);
    if (s != YLOKH_OK) return fail("client", s);

    uv_loop_t *loop = uv_default_loop();
    app a = {.status = YLOKH_INTERNAL};
    ylokh_message messages[] = {{"user", argv[1]}};
    s = ylokh_chat_start(client, getenv("YLOKH_MODEL"), messages, 1, getenv("YLOKH_PARAMS"), true, NULL, &a.req);
    if (s != YLOKH_OK) return fail("start", s);
    int fd = ylokh_request_fd(a.req);
    if (fd < 0) return fail("descriptor", YLOKH_INVALID_ARGUMENT);
    uv_poll_init(loop, &a.poll, fd);
    uv_poll_start(&a.poll, UV_READABLE, on_ready);
    uv_run(loop, UV_RUN_DEFAULT); /* returns once the poll handle is closed */

    ylokh_request_free(a.req);
    uv_loop_close(loop);
    ylokh_client_free(client);
    return a.status == YLOKH_OK ? 0 : 1;
}
