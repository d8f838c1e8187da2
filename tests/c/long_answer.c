/* One long answer and the memory it costs (issue 19): the server streams as fast as the program
 * reads; the program counts the text and reads message_json at the end.
 *   long_answer BASE_URL MODE
 *   -> bytes=N status=S json_len=L truncated=T rss_before_kib=A peak_kib=B
 * MODE: callbacks or pull. The options are the defaults (the message cap: 16 MiB).
 * rss_before: after the client is made; peak: ru_maxrss at the end. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ylokh.h"
#include "common.h"

struct seen {
    unsigned long long bytes;
    uint32_t status;
    size_t json_len;
    int truncated;
};

static void read_result(struct seen *s, const ylokh_result *r) {
    s->status = r->status;
    if (r->message) fprintf(stderr, "message: %s\n", r->message);
    if (r->message_json) {
        s->json_len = strlen(r->message_json);
        s->truncated = strstr(r->message_json, "\"truncated\":true") != NULL;
    }
}

static int on_token(void *u, const char *text, size_t len) {
    (void)text;
    ((struct seen *)u)->bytes += len;
    return 0;
}

static void on_done(void *u, const ylokh_result *r) { read_result(u, r); }

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    int pull = strcmp(argv[2], "pull") == 0;
    ylokh_options *o = ylokh_options_new_compatible(argv[1]);
    ylokh_options_set_max_retries(o, 0);
    ylokh_client *c = NULL;
    if (ylokh_client_new(o, &c) != YLOKH_OK) return 2;
    ylokh_options_free(o);
    long before = rss_kib();
    struct seen s = {0, YLOKH_INTERNAL, 0, 0};
    ylokh_message m[] = {{"user", "Talk for a long time."}};
    ylokh_callbacks cb = {&s, on_token, NULL, NULL, on_done};
    ylokh_request *req = NULL;
    if (ylokh_chat_start(c, NULL, m, 1, NULL, true, pull ? NULL : &cb, &req) != YLOKH_OK) return 2;
    if (pull) {
        for (;;) {
            ylokh_event ev;
            if (ylokh_request_next(req, UINT64_MAX, &ev) != YLOKH_OK) break;
            if (ev.kind == YLOKH_EVENT_DONE) {
                read_result(&s, ev.result);
                break;
            }
            if (ev.kind == YLOKH_EVENT_TOKEN) s.bytes += ev.len;
        }
    } else {
        ylokh_request_wait(req, UINT64_MAX);
    }
    ylokh_request_free(req);
    ylokh_client_free(c);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("bytes=%llu status=%u json_len=%zu truncated=%d rss_before_kib=%ld peak_kib=%ld\n", s.bytes,
           s.status, s.json_len, s.truncated, before, usage.ru_maxrss);
    return s.status == YLOKH_OK ? 0 : 1;
}
