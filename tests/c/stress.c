/* Stress: THREADS threads x N requests per round, two rounds, against the loopback test server.
 * Each request does one of: finish, cancel at a random moment, free while running, free inside
 * on_done, abort from a callback; one request in 12 is instead (0.2) a ylokh_chat_send over a
 * tool-call stream (finish, or a non-zero return from on_tool_call); every 250th request goes
 * through a second client with resume on to a stream that breaks mid-event (so it resumes, or is
 * cancelled, freed or aborted while it does); every 500 requests a thread also frees a private
 * client with requests in flight. The shared clients of each round are freed from threads of
 * their own.
 *
 * Checks: every on_done ran exactly once, no callback after it, a tool request that ended OK had
 * its complete call (n_tool_calls 1), one aborted from on_tool_call had no tool_calls in its
 * message_json, the process's thread count is
 * back to its baseline after each round, and resident memory after round 2 is within 10% of
 * after round 1. Usage: stress http://127.0.0.1:PORT [requests-per-thread] [threads] [rounds] */
#define _GNU_SOURCE
#include "ylokh.h"
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct rec {
    atomic_int done;
    atomic_int after_done;
    atomic_int tokens;
    atomic_int calls;
    int free_in_done;
    int abort_at;
    int abort_call_at;
    int tools;
    ylokh_request *req;
} rec;

static const char *server;
static int per_thread = 5000, threads = 4;
static atomic_long started, finished_ok, cancelled, aborted, other, tool_requests, bad_tools, resumed;

static int on_token(void *ud, const char *text, size_t len) {
    rec *r = ud;
    (void)text;
    (void)len;
    if (atomic_load(&r->done)) atomic_fetch_add(&r->after_done, 1);
    int n = atomic_fetch_add(&r->tokens, 1) + 1;
    return n == r->abort_at;
}

static int on_tool_call(void *ud, const ylokh_tool_call *call) {
    rec *r = ud;
    if (atomic_load(&r->done)) atomic_fetch_add(&r->after_done, 1);
    int n = atomic_fetch_add(&r->calls, 1) + 1;
    if (call->index != (uint32_t)n - 1 || !call->arguments_valid || call->arguments[call->arguments_len] != 0)
        atomic_fetch_add(&bad_tools, 1);
    return n == r->abort_call_at;
}

static void on_done(void *ud, const ylokh_result *res) {
    rec *r = ud;
    if (atomic_load(&r->done)) atomic_fetch_add(&r->after_done, 1);
    if (r->tools && res->status == YLOKH_OK && (atomic_load(&r->calls) != 1 || res->n_tool_calls != 1))
        atomic_fetch_add(&bad_tools, 1);
    if (atomic_load(&r->calls) && res->status != YLOKH_OK && (!res->message_json || strstr(res->message_json, "tool_calls")))
        atomic_fetch_add(&bad_tools, 1);
    atomic_fetch_add(&resumed, (long)res->resumes);
    switch (res->status) {
    case YLOKH_OK: atomic_fetch_add(&finished_ok, 1); break;
    case YLOKH_CANCELLED: atomic_fetch_add(&cancelled, 1); break;
    case YLOKH_ABORTED: atomic_fetch_add(&aborted, 1); break;
    default: atomic_fetch_add(&other, 1); break;
    }
    if (r->free_in_done) ylokh_request_free(r->req);
    atomic_fetch_add(&r->done, 1);
}

static void two_workers(ylokh_options *o) { ylokh_options_set_worker_threads(o, 2); }
static void two_workers_resume(ylokh_options *o) {
    ylokh_options_set_worker_threads(o, 2);
    ylokh_options_set_resume(o, true);
}

static ylokh_client *new_client_with(const char *scenario, int resume) {
    return client_or_exit(scenario_url(server, scenario), resume ? two_workers_resume : two_workers);
}

static ylokh_client *new_client(const char *scenario) { return new_client_with(scenario, 0); }

static const ylokh_message MSG[] = {{"user", "stress"}};

static int start(ylokh_client *c, rec *r) {
    ylokh_callbacks cb = {r, on_token, NULL, NULL, on_done};
    atomic_fetch_add(&started, 1);
    /* The library writes r->req before any callback can run, so on_done may free it. */
    return ylokh_chat_start(c, NULL, MSG, 1, NULL, true, &cb, &r->req) == YLOKH_OK;
}

/* (0.2) ylokh_chat_send with on_tool_call, on a client of a tool-call scenario. */
static int send_tools(ylokh_client *c, rec *r) {
    ylokh_chat_request q;
    memset(&q, 0, sizeof q);
    q.struct_size = sizeof q;
    q.messages = MSG;
    q.n_messages = 1;
    q.stream = true;
    q.user_data = r;
    q.on_token = on_token;
    q.on_tool_call = on_tool_call;
    q.on_done = on_done;
    atomic_fetch_add(&started, 1);
    atomic_fetch_add(&tool_requests, 1);
    return ylokh_chat_send(c, &q, &r->req) == YLOKH_OK;
}

typedef struct job {
    ylokh_client *client;
    ylokh_client *tools;
    ylokh_client *resumer; /* resume on; its stream breaks after 700 bytes */
    rec *recs;
    int failures;
    unsigned seed;
} job;

static int check(rec *r, const char *what) {
    if (atomic_load(&r->done) != 1 || atomic_load(&r->after_done) != 0) {
        fprintf(stderr, "%s: on_done ran %d times, %d callbacks after it\n", what, atomic_load(&r->done), atomic_load(&r->after_done));
        return 1;
    }
    return 0;
}

static void *worker(void *arg) {
    job *j = arg;
    for (int i = 0; i < per_thread; i++) {
        rec *r = &j->recs[i];
        int action = rand_r(&j->seed) % 5;
        r->tools = i % 12 == 11;
        if (r->tools) action = 5;
        if (action == 3) r->free_in_done = 1;
        if (action == 4) r->abort_at = 1 + rand_r(&j->seed) % 40;
        if (action == 5) r->abort_call_at = rand_r(&j->seed) % 2; /* 0: none */
        if (!(r->tools ? send_tools(j->tools, r) : start(i % 250 == 124 ? j->resumer : j->client, r))) {
            j->failures++;
            continue;
        }
        switch (action) {
        case 0: /* finish */
        case 4: /* abort from a callback */
        case 5: /* tool calls */
            ylokh_request_wait(r->req, UINT64_MAX);
            ylokh_request_free(r->req);
            break;
        case 1: /* cancel at a random moment */
            usleep(rand_r(&j->seed) % 1500);
            ylokh_request_cancel(r->req);
            ylokh_request_wait(r->req, UINT64_MAX);
            ylokh_request_free(r->req);
            break;
        case 2: /* free while running */
            usleep(rand_r(&j->seed) % 1000);
            ylokh_request_free(r->req);
            break;
        case 3: /* freed inside on_done */
            break;
        }
        if (i % 500 == 499) { /* a private client freed with requests in flight */
            ylokh_client *c = new_client("trickle");
            rec inflight[4];
            memset(inflight, 0, sizeof inflight);
            for (int k = 0; k < 4; k++) start(c, &inflight[k]);
            usleep(rand_r(&j->seed) % 5000);
            ylokh_client_free(c);
            for (int k = 0; k < 4; k++) {
                j->failures += check(&inflight[k], "in flight at client_free");
                ylokh_request_free(inflight[k].req);
            }
        }
    }
    return NULL;
}

static void *free_client(void *c) {
    ylokh_client_free(c);
    return NULL;
}

/* One round; returns the number of failed checks. */
static int round_(int number, long baseline_threads) {
    ylokh_client *client = new_client("stream");
    ylokh_client *tools = new_client("replay3-tools.whole");
    ylokh_client *resumer = new_client_with("resume-700", 1);
    pthread_t tids[64];
    job jobs[64];
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job){client, tools, resumer, calloc((size_t)per_thread, sizeof(rec)), 0, (unsigned)(number * 1000 + t)};
        pthread_create(&tids[t], NULL, worker, &jobs[t]);
    }
    int failures = 0;
    for (int t = 0; t < threads; t++) pthread_join(tids[t], NULL);
    pthread_t freer; /* ylokh_client_free from a thread of its own, requests perhaps in flight */
    pthread_create(&freer, NULL, free_client, client);
    pthread_join(freer, NULL);
    pthread_create(&freer, NULL, free_client, tools);
    pthread_join(freer, NULL);
    pthread_create(&freer, NULL, free_client, resumer);
    pthread_join(freer, NULL);
    for (int t = 0; t < threads; t++) {
        failures += jobs[t].failures;
        for (int i = 0; i < per_thread; i++) failures += check(&jobs[t].recs[i], "request");
        free(jobs[t].recs);
    }
    /* A joined thread can stay in the kernel's count a moment (longer on a loaded machine or
     * under valgrind): read it until it is back, for up to 30 s; a leaked thread stays. */
    long now_threads = proc_status_field("Threads");
    for (int i = 0; i < 1500 && now_threads != baseline_threads; i++) {
        usleep(20 * 1000);
        now_threads = proc_status_field("Threads");
    }
    if (now_threads != baseline_threads) {
        fprintf(stderr, "round %d: %ld threads, baseline %ld\n", number, now_threads, baseline_threads);
        failures++;
    }
    return failures;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL [requests-per-thread] [threads] [rounds]\n", argv[0]);
        return 2;
    }
    server = argv[1];
    if (argc > 2) per_thread = atoi(argv[2]);
    if (argc > 3) threads = atoi(argv[3]);
    if (threads < 1 || threads > 64 || per_thread < 1) return 2;
    int rounds = argc > 4 ? atoi(argv[4]) : 2; /* more rounds show a trend, if any */
    long baseline = proc_status_field("Threads");
    int failures = round_(1, baseline);
    long rss1 = proc_status_field("VmRSS");
    for (int r = 2; r < rounds; r++) {
        failures += round_(r, baseline);
        printf("round %d: VmRSS %ld KiB\n", r, proc_status_field("VmRSS"));
    }
    failures += round_(rounds, baseline);
    long rss2 = proc_status_field("VmRSS");
    printf("stress: %ld requests (%ld ok, %ld cancelled, %ld aborted, %ld other; %ld with tool calls, %ld wrong; "
           "%ld resumes); threads %ld -> %ld; VmRSS after round 1: %ld KiB, after the last round: %ld KiB\n",
           atomic_load(&started), atomic_load(&finished_ok), atomic_load(&cancelled), atomic_load(&aborted),
           atomic_load(&other), atomic_load(&tool_requests), atomic_load(&bad_tools), atomic_load(&resumed), baseline,
           proc_status_field("Threads"), rss1, rss2);
    if (atomic_load(&bad_tools) || atomic_load(&other) != 0 || atomic_load(&resumed) == 0) {
        fprintf(stderr, "%ld tool-call requests ended inconsistently; %ld requests ended otherwise than ok, cancelled or aborted; %ld resumes\n",
                atomic_load(&bad_tools), atomic_load(&other), atomic_load(&resumed));
        failures++;
    }
    if (rss2 > rss1 + rss1 / 10) {
        fprintf(stderr, "resident memory grew by more than 10%% between the first and the last round\n");
        failures++;
    }
    printf("%d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
    return failures ? 1 : 0;
}
