/* The pull interface's backpressure: a consumer that sleeps takes a 1,000,000-token stream that the
 * server sends as fast as it can, and the process's resident memory stays flat.
 *   pull_memory BASE_URL   ->  tokens=N status=S rss_start_kib=A rss_max_kib=B
 * (rss_start: after the first 50,000 tokens, when the queue and the buffers are warm; then the
 * consumer stops for 2 s, long enough for the server to send the whole rest of the stream). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "ylokh.h"
#include "common.h"

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    ylokh_options *o = ylokh_options_new_compatible(argv[1]);
    ylokh_options_set_max_retries(o, 0);
    ylokh_client *c = NULL;
    if (ylokh_client_new(o, &c) != YLOKH_OK) return 2;
    ylokh_options_free(o);
    ylokh_message m[] = {{"user", "Count."}};
    ylokh_request *req = NULL;
    if (ylokh_chat_start(c, NULL, m, 1, NULL, true, NULL, &req) != YLOKH_OK) return 2;
    long tokens = 0, rss_start = 0, rss_max = 0;
    uint32_t status = YLOKH_INTERNAL;
    struct timespec nap = {0, 1000000}; /* 1 ms every 250 tokens */
    struct timespec stall = {2, 0};     /* and once, 2 s: the server could send everything */
    for (;;) {
        ylokh_event ev;
        if (ylokh_request_next(req, UINT64_MAX, &ev) != YLOKH_OK) break;
        if (ev.kind == YLOKH_EVENT_DONE) {
            status = ev.result->status;
            break;
        }
        if (ev.kind != YLOKH_EVENT_TOKEN) continue;
        if (++tokens % 250 == 0) nanosleep(&nap, NULL);
        if (tokens % 50000 == 0) {
            long rss = rss_kib();
            if (tokens == 50000) {
                rss_start = rss;
                nanosleep(&stall, NULL);
            }
            if (rss > rss_max) rss_max = rss;
        }
    }
    ylokh_request_free(req);
    ylokh_client_free(c);
    printf("tokens=%ld status=%u rss_start_kib=%ld rss_max_kib=%ld\n", tokens, status, rss_start, rss_max);
    return status == YLOKH_OK ? 0 : 1;
}
