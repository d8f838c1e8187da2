/* Serves N concurrent chat requests on one thread with epoll (Linux): each is a pull request
 * (callbacks == NULL), its descriptor (ylokh_request_fd) sits in one epoll set, and whenever it
 * is readable the thread takes that request's events with ylokh_request_next(req, 0, &ev) until
 * it says YLOKH_PENDING. No thread per request, no timer, no callback on a library thread.
 *
 * Usage: epoll PROMPT [N]   (N concurrent requests with the same prompt; default 1)
 * The first request's answer streams to stdout as it arrives; a summary goes to stderr:
 * "requests N, ok K, tokens T". Exit status: 0 when every request succeeded, 1 when one failed
 * (the first failure's status and message on stderr), 2 on a usage error.
 * Environment: YLOKH_BASE_URL (none: the Ylokh preset), YLOKH_API_KEY, YLOKH_MODEL,
 * YLOKH_PARAMS (a JSON object merged into the body, e.g. {"max_tokens":64}).
 *
 *   cc -Iinclude examples/epoll.c -Ltarget/release -lylokh -o epoll
 *   YLOKH_BASE_URL=http://127.0.0.1:8080/v1 ./epoll "Why is the sky blue?" 100
 */
#include "ylokh.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

typedef struct stream {
    ylokh_request *req;
    int index;
    long tokens;
} stream;

static int fail(const char *what, ylokh_status status) {
    fprintf(stderr, "error: %s: %s: %s\n", what, ylokh_status_str(status), ylokh_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PROMPT [N]\n", argv[0]);
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 1;
    if (n < 1) {
        fprintf(stderr, "usage: %s PROMPT [N]: N is a positive number\n", argv[0]);
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

    int ep = epoll_create1(EPOLL_CLOEXEC);
    stream *streams = calloc((size_t)n, sizeof *streams);
    if (ep < 0 || !streams) {
        perror("epoll_create1/calloc");
        return 1;
    }
    ylokh_message messages[] = {{"user", argv[1]}};
    int started = 0;
    for (int i = 0; i < n; i++) {
        streams[i].index = i;
        s = ylokh_chat_start(client, getenv("YLOKH_MODEL"), messages, 1, getenv("YLOKH_PARAMS"), true, NULL,
                             &streams[i].req);
        if (s != YLOKH_OK) {
            fail("start", s);
            break;
        }
        started++;
        /* Readable exactly while ylokh_request_next(req, 0, ...) has an event (DONE included). */
        int fd = ylokh_request_fd(streams[i].req);
        struct epoll_event want = {.events = EPOLLIN, .data.ptr = &streams[i]};
        if (fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &want) != 0) {
            fprintf(stderr, "error: request %d: no descriptor: %s\n", i, fd < 0 ? ylokh_last_error() : "epoll_ctl");
            return 1;
        }
    }

    int left = started, ok = 0;
    long tokens = 0;
    ylokh_status first_failure = YLOKH_OK;
    char failure[1024] = "";
    struct epoll_event ready[64];
    while (left > 0) {
        int k = epoll_wait(ep, ready, 64, -1);
        for (int r = 0; r < k; r++) {
            stream *st = ready[r].data.ptr;
            ylokh_event ev;
            /* Take what is there; the descriptor stays readable until the queue is empty. */
            while (ylokh_request_next(st->req, 0, &ev) == YLOKH_OK) {
                if (ev.kind == YLOKH_EVENT_TOKEN) {
                    st->tokens++;
                    if (st->index == 0) {
                        fwrite(ev.text, 1, ev.len, stdout);
                        fflush(stdout);
                    }
                } else if (ev.kind == YLOKH_EVENT_DONE) {
                    if (ev.result->status == YLOKH_OK) {
                        ok++;
                    } else if (first_failure == YLOKH_OK) {
                        first_failure = ev.result->status;
                        snprintf(failure, sizeof failure, "request %d: %s: %s", st->index,
                                 ylokh_status_str(ev.result->status), ev.result->message);
                    }
                    tokens += st->tokens;
                    /* Out of the set before the free closes the descriptor. */
                    epoll_ctl(ep, EPOLL_CTL_DEL, ylokh_request_fd(st->req), NULL);
                    ylokh_request_free(st->req);
                    st->req = NULL;
                    left--;
                    break;
                }
            }
        }
    }
    if (n == 1 || started > 0) printf("\n");
    fprintf(stderr, "requests %d, ok %d, tokens %ld\n", n, ok, tokens);
    if (first_failure != YLOKH_OK) fprintf(stderr, "error: %s\n", failure);
    close(ep);
    free(streams);
    ylokh_client_free(client);
    return ok == n ? 0 : 1;
}
