/* The C API as a C user sees it, against the loopback test server (tests/support/mod.rs).
 * Usage: api_test http://127.0.0.1:PORT
 * Every request's callbacks are recorded and checked: on_done ran exactly once, last, never on
 * the starting thread, and the callbacks of one request never overlapped. */
#define _GNU_SOURCE
#include "ylokh.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *server;
static int failures, checks;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        checks++;                                                              \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            fprintf(stderr, "FAIL %s:%d: %s: ", __func__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, "\n");                                             \
        }                                                                      \
    } while (0)

typedef struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char text[1 << 16];
    size_t len;
    char reasoning[256];
    size_t rlen;
    int tokens, chunks, done_count, after_done, overlap, on_starter;
    atomic_int in_callback;
    pthread_t starter;
    /* behaviour */
    int abort_after;          /* return non-zero on this token (1-based) */
    int cancel_after;         /* call ylokh_request_cancel on this token */
    int recursive_after;      /* call blocking functions on this token */
    int free_in_done;         /* ylokh_request_free(req) inside on_done */
    ylokh_client *free_client_on_token; /* ylokh_client_free from inside a callback */
    ylokh_client *complete_client;      /* for ylokh_chat_complete from inside a callback */
    ylokh_client *start_in_done;        /* ylokh_chat_start on this client inside on_done */
    ylokh_status start_in_done_status;
    char start_in_done_message[512];
    ylokh_request *req;
    ylokh_status wait_in_cb, complete_in_cb;
    /* the result, copied */
    ylokh_status status;
    uint16_t http_status;
    char message[2048];
    char finish[64];
    int64_t prompt, completion, total;
} rec;

static rec *rec_new(void) {
    rec *r = calloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->starter = pthread_self();
    r->status = 999;
    return r;
}

static void enter(rec *r) {
    if (atomic_fetch_add(&r->in_callback, 1) != 0) r->overlap++;
    if (pthread_equal(pthread_self(), r->starter)) r->on_starter++;
    if (r->done_count) r->after_done++;
}
static void leave(rec *r) { atomic_fetch_sub(&r->in_callback, 1); }

static int on_token(void *ud, const char *text, size_t len) {
    rec *r = ud;
    enter(r);
    int rc = 0;
    if (text[len] != '\0') r->overlap += 1000; /* NUL-termination promised */
    if (r->len + len < sizeof r->text) {
        memcpy(r->text + r->len, text, len);
        r->len += len;
        r->text[r->len] = 0;
    }
    r->tokens++;
    if (r->tokens == r->abort_after) rc = 7;
    if (r->tokens == r->cancel_after) ylokh_request_cancel(r->req);
    if (r->tokens == r->recursive_after) {
        r->wait_in_cb = ylokh_request_wait(r->req, 10);
        char *out = NULL;
        ylokh_message m = {"user", "x"};
        r->complete_in_cb = ylokh_chat_complete(r->complete_client, NULL, &m, 1, NULL, &out, NULL);
    } else if (r->free_client_on_token && r->tokens == 1) {
        ylokh_client_free(r->free_client_on_token);
    }
    leave(r);
    return rc;
}

static int on_reasoning(void *ud, const char *text, size_t len) {
    rec *r = ud;
    enter(r);
    if (r->rlen + len < sizeof r->reasoning) {
        memcpy(r->reasoning + r->rlen, text, len);
        r->rlen += len;
        r->reasoning[r->rlen] = 0;
    }
    leave(r);
    return 0;
}

static int on_chunk(void *ud, const char *json, size_t len) {
    rec *r = ud;
    enter(r);
    (void)json;
    (void)len;
    r->chunks++;
    leave(r);
    return 0;
}

static void on_done(void *ud, const ylokh_result *res) {
    rec *r = ud;
    enter(r);
    r->status = res->status;
    r->http_status = res->http_status;
    snprintf(r->message, sizeof r->message, "%s", res->message ? res->message : "");
    snprintf(r->finish, sizeof r->finish, "%s", res->finish_reason ? res->finish_reason : "");
    r->prompt = res->prompt_tokens;
    r->completion = res->completion_tokens;
    r->total = res->total_tokens;
    if (r->free_in_done) ylokh_request_free(r->req);
    if (r->start_in_done) {
        static const ylokh_message again[] = {{"user", "again"}};
        ylokh_request *late = NULL;
        r->start_in_done_status = ylokh_chat_start(r->start_in_done, NULL, again, 1, NULL, true, NULL, &late);
        const char *why = ylokh_last_error();
        snprintf(r->start_in_done_message, sizeof r->start_in_done_message, "%s", why ? why : "");
        if (late) ylokh_request_free(late);
    }
    leave(r);
    pthread_mutex_lock(&r->mu);
    r->done_count++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static ylokh_callbacks callbacks_for(rec *r) {
    ylokh_callbacks cb = {r, on_token, on_reasoning, on_chunk, on_done};
    return cb;
}

/* Waits for on_done through the recorder itself (works even when the handle was freed). */
static void await_done(rec *r) {
    pthread_mutex_lock(&r->mu);
    while (r->done_count == 0) pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

static void check_invariants(rec *r, const char *what) {
    usleep(20 * 1000); /* room for a stray late callback to show up */
    CHECK(r->done_count == 1, "%s: on_done ran %d times", what, r->done_count);
    CHECK(r->after_done == 0, "%s: %d callbacks after on_done", what, r->after_done);
    CHECK(r->overlap == 0, "%s: callbacks overlapped (or text not NUL-terminated)", what);
    CHECK(r->on_starter == 0, "%s: a callback ran on the starting thread", what);
}

static char *base(const char *scenario) {
    static __thread char buf[256];
    snprintf(buf, sizeof buf, "%s/%s/v1", server, scenario);
    return buf;
}

static ylokh_client *client_for(const char *scenario, void (*tweak)(ylokh_options *)) {
    ylokh_options *o = ylokh_options_new_compatible(base(scenario));
    if (!o) {
        fprintf(stderr, "options: %s\n", ylokh_last_error());
        exit(2);
    }
    if (tweak) tweak(o);
    ylokh_client *c = NULL;
    if (ylokh_client_new(o, &c) != YLOKH_OK) {
        fprintf(stderr, "client: %s\n", ylokh_last_error());
        exit(2);
    }
    ylokh_options_free(o);
    return c;
}

static const ylokh_message HELLO[] = {{"system", "Be brief."}, {"user", "Say hello in three languages."}};

/* Runs one request to its end with a fresh recorder. */
static rec *run(ylokh_client *c, const char *params, bool stream, rec *r) {
    if (!r) r = rec_new();
    ylokh_callbacks cb = callbacks_for(r);
    ylokh_request *req = NULL;
    ylokh_status s = ylokh_chat_start(c, NULL, HELLO, 2, params, stream, &cb, &req);
    if (s != YLOKH_OK) {
        fprintf(stderr, "start failed: %s\n", ylokh_last_error());
        exit(2);
    }
    r->req = req;
    if (!r->free_in_done) {
        ylokh_status w = ylokh_request_wait(req, UINT64_MAX);
        CHECK(w == r->status, "wait gave %u, on_done %u", w, r->status);
        ylokh_request_free(req);
    } else {
        await_done(r);
    }
    return r;
}

static rec *run_scenario(const char *scenario, void (*tweak)(ylokh_options *), bool stream) {
    ylokh_client *c = client_for(scenario, tweak);
    rec *r = run(c, NULL, stream, NULL);
    ylokh_client_free(c);
    check_invariants(r, scenario);
    return r;
}

/* The non-streamed fixture's message.content, decoded by the library itself. */
static char expected_text[1 << 16];

static void test_fixtures(void) {
    rec *ns = run_scenario("nonstream", NULL, false);
    CHECK(ns->status == YLOKH_OK, "%s", ns->message);
    CHECK(ns->tokens == 1, "non-stream gives one token, got %d", ns->tokens);
    CHECK(strncmp(ns->text, "Say hello in three languages.<|im_end|>\n", 40) == 0, "text: %s", ns->text);
    CHECK(ns->prompt == 29 && ns->completion == 48 && ns->total == 77, "usage %lld", (long long)ns->total);
    CHECK(strcmp(ns->finish, "length") == 0, "finish %s", ns->finish);
    CHECK(ns->http_status == 200, "http %u", ns->http_status);
    snprintf(expected_text, sizeof expected_text, "%s", ns->text);

    const char *streams[] = {"stream", "streamcl"};
    for (int i = 0; i < 2; i++) {
        rec *r = run_scenario(streams[i], NULL, true);
        CHECK(r->status == YLOKH_OK, "%s: %s", streams[i], r->message);
        CHECK(strcmp(r->text, expected_text) == 0, "%s: streamed text differs:\n%s", streams[i], r->text);
        CHECK(strcmp(r->finish, "length") == 0, "%s finish %s", streams[i], r->finish);
        CHECK(r->tokens == 48 && r->chunks == 50, "%s: %d tokens %d chunks", streams[i], r->tokens, r->chunks);
        CHECK(r->total == -1, "no usage in this stream");
        free(r);
    }
    rec *ru = run_scenario("usageru", NULL, true);
    CHECK(ru->status == YLOKH_OK, "%s", ru->message);
    CHECK(ru->prompt == 36 && ru->completion == 40 && ru->total == 76, "usage from the choices:[] chunk");
    CHECK(ru->len > 0, "russian text");
    free(ru);

    struct { const char *scenario, *needle; } errors[] = {
        {"badjson", "[json.exception.parse_error.101] parse error"},
        {"nomessages", "'messages' is required"},
        {"weird", "Field 'max_tokens': Value must be between"},
    };
    for (int i = 0; i < 3; i++) {
        rec *r = run_scenario(errors[i].scenario, NULL, true);
        CHECK(r->status == YLOKH_HTTP_STATUS && r->http_status == 400, "%s: %u %u", errors[i].scenario, r->status, r->http_status);
        CHECK(strstr(r->message, errors[i].needle) && strstr(r->message, "HTTP 400"), "%s: %s", errors[i].scenario, r->message);
        CHECK(r->tokens == 0, "no tokens");
        free(r);
    }
    free(ns);
}

static void test_decoder_rules_and_reasoning(void) {
    rec *r = run_scenario("rules", NULL, true);
    CHECK(r->status == YLOKH_OK, "%s", r->message);
    CHECK(strcmp(r->text, "one two три é\n") == 0, "text [%s]", r->text);
    CHECK(strcmp(r->finish, "stop") == 0, "finish");
    free(r);
    r = run_scenario("reasoning", NULL, true);
    CHECK(r->status == YLOKH_OK, "%s", r->message);
    CHECK(strcmp(r->reasoning, "thinkmore") == 0, "reasoning [%s]", r->reasoning);
    CHECK(strcmp(r->text, "answer") == 0, "text [%s]", r->text);
    CHECK(r->prompt == 5 && r->completion == 3 && r->total == 8, "usage");
    free(r);
}

static void small_cap(ylokh_options *o) { ylokh_options_set_max_event_bytes(o, 1024); }
static void read_timeout(ylokh_options *o) { ylokh_options_set_read_timeout_ms(o, 300); }
static void total_timeout(ylokh_options *o) { ylokh_options_set_timeout_ms(o, 300); }
static void one_retry(ylokh_options *o) { ylokh_options_set_max_retries(o, 1); }

static void test_errors(void) {
    struct { const char *scenario; void (*tweak)(ylokh_options *); ylokh_status status; const char *needle; int tokens; } cases[] = {
        {"errorinstream", NULL, YLOKH_SERVER_ERROR, "model crashed", 1},
        {"errorevent", NULL, YLOKH_SERVER_ERROR, "overloaded", 0},
        {"truncated", NULL, YLOKH_INCOMPLETE, "after 2 tokens", 2},
        {"finishnodone", NULL, YLOKH_OK, "", 1},
        {"badevent", NULL, YLOKH_PROTOCOL, "does not parse", 0},
        {"html", NULL, YLOKH_PROTOCOL, "text/html", 0},
        {"jsonerror", NULL, YLOKH_SERVER_ERROR, "quota exceeded", 0},
        {"bigevent", small_cap, YLOKH_PROTOCOL, "larger than 1024 bytes", 0},
        {"stall", read_timeout, YLOKH_TIMEOUT, "read timeout", 1},
        {"trickle", total_timeout, YLOKH_TIMEOUT, "300 ms time limit", -1},
        {"429once-a", NULL, YLOKH_OK, "", 1},
        {"503always", one_retry, YLOKH_HTTP_STATUS, "busy, attempt 2", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rec *r = run_scenario(cases[i].scenario, cases[i].tweak, true);
        CHECK(r->status == cases[i].status, "%s: status %s, message %s", cases[i].scenario, ylokh_status_str(r->status), r->message);
        CHECK(strstr(r->message, cases[i].needle), "%s: message [%s] lacks [%s]", cases[i].scenario, r->message, cases[i].needle);
        if (cases[i].status == YLOKH_OK) CHECK(r->message[0] == 0, "an OK result has no message");
        if (cases[i].tokens >= 0) CHECK(r->tokens == cases[i].tokens, "%s: %d tokens", cases[i].scenario, r->tokens);
        else CHECK(r->tokens > 0, "%s: tokens before the timeout", cases[i].scenario);
        free(r);
    }
    rec *r = run_scenario("truncated", NULL, true);
    CHECK(strcmp(r->text, "ab") == 0, "the tokens that arrived were delivered: [%s]", r->text);
    free(r);

    /* TLS: https:// to the plain-HTTP test server fails in the handshake. */
    char https[256];
    snprintf(https, sizeof https, "https%s/stream/v1", server + 4);
    ylokh_options *to = ylokh_options_new_compatible(https);
    ylokh_options_set_max_retries(to, 0);
    ylokh_client *tc = NULL;
    CHECK(ylokh_client_new(to, &tc) == YLOKH_OK, "client");
    ylokh_options_free(to);
    r = run(tc, NULL, true, NULL);
    ylokh_client_free(tc);
    check_invariants(r, "tls");
    CHECK(r->status == YLOKH_TLS && strstr(r->message, "ylokh_options_add_ca_file"), "tls: %s: %s", ylokh_status_str(r->status), r->message);
    free(r);

    /* An HTTP proxy: the host in the base URL does not exist, so only the proxy can answer. */
    ylokh_options *po = ylokh_options_new_compatible("http://no-such-host.invalid/stream/v1");
    CHECK(ylokh_options_set_proxy(po, server) == YLOKH_OK, "proxy");
    ylokh_client *pc = NULL;
    CHECK(ylokh_client_new(po, &pc) == YLOKH_OK, "client");
    r = run(pc, NULL, true, NULL);
    ylokh_client_free(pc);
    check_invariants(r, "proxy");
    CHECK(r->status == YLOKH_OK && strcmp(r->text, expected_text) == 0, "through the proxy: %s", r->message);
    free(r);
    /* The proxy down: YLOKH_CONNECT, and the message names the proxy. */
    CHECK(ylokh_options_set_proxy(po, "http://127.0.0.1:9") == YLOKH_OK, "proxy");
    ylokh_options_set_max_retries(po, 0);
    CHECK(ylokh_client_new(po, &pc) == YLOKH_OK, "client");
    ylokh_options_free(po);
    r = run(pc, NULL, true, NULL);
    ylokh_client_free(pc);
    check_invariants(r, "proxy down");
    CHECK(r->status == YLOKH_CONNECT && strstr(r->message, "through proxy http://127.0.0.1:9/"), "proxy down: %s: %s", ylokh_status_str(r->status), r->message);
    free(r);

    /* Connection refused: a port that was just free. */
    ylokh_options *o = ylokh_options_new_compatible("http://127.0.0.1:9/v1");
    ylokh_options_set_max_retries(o, 0);
    ylokh_client *c = NULL;
    CHECK(ylokh_client_new(o, &c) == YLOKH_OK, "client");
    ylokh_options_free(o);
    r = run(c, NULL, true, NULL);
    ylokh_client_free(c);
    check_invariants(r, "refused");
    CHECK(r->status == YLOKH_CONNECT && r->http_status == 0, "refused: %s", ylokh_status_str(r->status));
    CHECK(strstr(r->message, "connection refused by 127.0.0.1:9") && strstr(r->message, "is the server running?") &&
              strstr(r->message, "(base URL http://127.0.0.1:9/v1)"),
          "message: %s", r->message);
    free(r);
}

/* Starts a trickle request with the recorder `r`. */
static ylokh_request *start_trickle(ylokh_client *c, rec *r) {
    ylokh_callbacks cb = callbacks_for(r);
    ylokh_request *req = NULL;
    CHECK(ylokh_chat_start(c, "m", HELLO, 2, NULL, true, &cb, &req) == YLOKH_OK, "start");
    r->req = req;
    return req;
}

static void test_cancel_abort_wait(void) {
    ylokh_client *c = client_for("trickle", NULL);

    rec *r = rec_new(); /* cancel from another thread */
    ylokh_request *req = start_trickle(c, r);
    usleep(150 * 1000);
    CHECK(ylokh_request_cancel(req) == YLOKH_OK, "cancel");
    CHECK(ylokh_request_cancel(req) == YLOKH_OK, "cancel is idempotent");
    CHECK(ylokh_request_wait(req, UINT64_MAX) == YLOKH_CANCELLED, "cancelled");
    CHECK(r->tokens > 0, "some tokens came first");
    ylokh_request_free(req);
    check_invariants(r, "cancel");
    free(r);

    r = rec_new(); /* cancel from inside a callback */
    r->cancel_after = 3;
    req = start_trickle(c, r);
    CHECK(ylokh_request_wait(req, UINT64_MAX) == YLOKH_CANCELLED, "cancelled in callback: %s", ylokh_status_str(r->status));
    CHECK(r->tokens == 3, "no token after the cancel: %d", r->tokens);
    ylokh_request_free(req);
    check_invariants(r, "cancel in callback");
    free(r);

    r = rec_new(); /* abort by return value */
    r->abort_after = 2;
    req = start_trickle(c, r);
    CHECK(ylokh_request_wait(req, UINT64_MAX) == YLOKH_ABORTED, "aborted");
    CHECK(r->tokens == 2 && strstr(r->message, "on_token callback returned 7"), "%d %s", r->tokens, r->message);
    ylokh_request_free(req);
    check_invariants(r, "abort");
    free(r);

    r = rec_new(); /* wait running out, and blocking calls from a callback */
    r->recursive_after = 2;
    r->complete_client = c;
    req = start_trickle(c, r);
    CHECK(ylokh_request_wait(req, 30) == YLOKH_PENDING, "wait ran out");
    usleep(100 * 1000);
    CHECK(r->wait_in_cb == YLOKH_RECURSIVE_CALL, "wait in callback: %u", r->wait_in_cb);
    CHECK(r->complete_in_cb == YLOKH_RECURSIVE_CALL, "chat_complete in callback: %u", r->complete_in_cb);
    ylokh_request_free(req); /* free while running: cancels */
    await_done(r);
    CHECK(r->status == YLOKH_CANCELLED, "free cancels: %s", ylokh_status_str(r->status));
    check_invariants(r, "wait");
    free(r);

    r = rec_new(); /* free inside on_done */
    r->free_in_done = 1;
    r->abort_after = 1;
    start_trickle(c, r);
    await_done(r);
    check_invariants(r, "free in on_done");
    free(r);

    ylokh_client_free(c);
}

static int thread_count(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    if (f) fclose(f);
    return n;
}

static void two_threads(ylokh_options *o) { ylokh_options_set_worker_threads(o, 2); }

static void test_client_free_in_flight(void) {
    int before = thread_count();
    ylokh_client *c = client_for("trickle", two_threads);
    rec *rs[8];
    for (int i = 0; i < 8; i++) {
        rs[i] = rec_new();
        start_trickle(c, rs[i]);
    }
    usleep(100 * 1000);
    ylokh_client_free(c);
    /* After client_free returns, every on_done has returned, and no callback runs again. */
    for (int i = 0; i < 8; i++) {
        CHECK(rs[i]->done_count == 1, "request %d: on_done had run %d times when client_free returned", i, rs[i]->done_count);
        CHECK(rs[i]->status == YLOKH_CANCELLED, "request %d: %s", i, ylokh_status_str(rs[i]->status));
        CHECK(ylokh_request_wait(rs[i]->req, 0) == YLOKH_CANCELLED, "handles outlive the client");
        ylokh_request_free(rs[i]->req);
        check_invariants(rs[i], "client_free in flight");
        free(rs[i]);
    }
    CHECK(thread_count() == before, "threads: %d before, %d after", before, thread_count());

    /* ylokh_client_free from inside a callback: neither panics nor deadlocks. */
    c = client_for("trickle", NULL);
    rec *r = rec_new();
    r->free_client_on_token = c;
    start_trickle(c, r);
    await_done(r);
    CHECK(r->status == YLOKH_CANCELLED, "free in callback: %s", ylokh_status_str(r->status));
    ylokh_request_free(r->req);
    check_invariants(r, "client_free in callback");
    free(r);
    for (int i = 0; i < 100 && thread_count() != before; i++) usleep(20 * 1000);
    CHECK(thread_count() == before, "the teardown finished: %d threads, %d before", thread_count(), before);

    /* A request started during the teardown (by an on_done the teardown runs) is refused with
     * YLOKH_CANCELLED and a message that says why, not YLOKH_INTERNAL. */
    c = client_for("trickle", NULL);
    r = rec_new();
    r->start_in_done = c;
    start_trickle(c, r);
    usleep(50 * 1000);
    ylokh_client_free(c);
    CHECK(r->status == YLOKH_CANCELLED, "teardown cancels: %s", ylokh_status_str(r->status));
    CHECK(r->start_in_done_status == YLOKH_CANCELLED, "start during teardown: %s: %s",
          ylokh_status_str(r->start_in_done_status), r->start_in_done_message);
    CHECK(strstr(r->start_in_done_message, "ylokh_client_free") != NULL, "the message says why: %s",
          r->start_in_done_message);
    ylokh_request_free(r->req);
    check_invariants(r, "start during teardown");
    free(r);
}

static void test_concurrent(void) {
    ylokh_client *c = client_for("stream", NULL);
    enum { N = 64 };
    rec *rs[N];
    ylokh_request *reqs[N];
    for (int i = 0; i < N; i++) {
        rs[i] = rec_new();
        ylokh_callbacks cb = callbacks_for(rs[i]);
        CHECK(ylokh_chat_start(c, NULL, HELLO, 2, NULL, true, &cb, &reqs[i]) == YLOKH_OK, "start %d", i);
        rs[i]->req = reqs[i];
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        ylokh_request_wait(reqs[i], UINT64_MAX);
        ok += rs[i]->status == YLOKH_OK && strcmp(rs[i]->text, expected_text) == 0;
        ylokh_request_free(reqs[i]);
    }
    ylokh_client_free(c);
    CHECK(ok == N, "%d of %d concurrent streams complete and exact", ok, N);
    for (int i = 0; i < N; i++) {
        check_invariants(rs[i], "concurrent");
        free(rs[i]);
    }
}

static void test_body_headers_and_pooling(void) {
    ylokh_options *o = ylokh_options_new(); /* the Ylokh preset, pointed at the test server */
    CHECK(ylokh_options_set_base_url(o, base("echo")) == YLOKH_OK, "base url");
    CHECK(ylokh_options_set_api_key(o, "sk-test-123") == YLOKH_OK, "key");
    CHECK(ylokh_options_set_header(o, "X-Custom", "yes") == YLOKH_OK, "header");
    ylokh_client *c = NULL;
    CHECK(ylokh_client_new(o, &c) == YLOKH_OK, "client");
    ylokh_options_free(o);
    rec *r = run(c, "{\"temperature\":0.5,\"max_tokens\":9,\"stream\":false}", true, NULL);
    CHECK(r->status == YLOKH_OK, "%s", r->message);
    CHECK(strstr(r->text, "authorization: Bearer sk-test-123\n"), "bearer: %s", r->text);
    CHECK(strstr(r->text, "origin: https://chat.ylokh.xyz\n") && strstr(r->text, "referer: https://chat.ylokh.xyz/\n"), "preset headers");
    CHECK(strstr(r->text, "x-custom: yes\n"), "custom header");
    CHECK(strstr(r->text, "\"model\":\"gpt-3.5-turbo\""), "default model");
    CHECK(strstr(r->text, "\"temperature\":0.5") && strstr(r->text, "\"max_tokens\":9") && strstr(r->text, "\"top_p\":1"), "params merged");
    CHECK(strstr(r->text, "\"allow_fallback\":true") && strstr(r->text, "\"stream\":false"), "preset params, kwargs win");
    CHECK(strstr(r->text, "\"messages\":[{\"content\":\"Be brief.\",\"role\":\"system\"}"), "messages");
    CHECK(r->prompt == 1 && r->total == 3, "usage");
    int conn1 = 0, conn2 = 0;
    sscanf(r->text, "conn %d", &conn1);
    rec *r2 = run(c, "{\"stream\":false}", true, NULL);
    sscanf(r2->text, "conn %d", &conn2);
    CHECK(conn1 > 0 && conn1 == conn2, "keep-alive: connection %d then %d", conn1, conn2);
    ylokh_client_free(c);
    free(r);
    free(r2);
}

static void test_pull_and_complete(void) {
    ylokh_client *c = client_for("stream", NULL);
    ylokh_request *req = NULL;
    CHECK(ylokh_chat_start(c, NULL, HELLO, 2, NULL, true, NULL, &req) == YLOKH_OK, "pull start");
    char text[4096] = "";
    size_t len = 0;
    ylokh_event ev;
    int guard = 0;
    for (;;) {
        ylokh_status s = ylokh_request_next(req, UINT64_MAX, &ev);
        CHECK(s == YLOKH_OK, "next: %u", s);
        if (s != YLOKH_OK || ev.kind == YLOKH_EVENT_DONE || ++guard > 1000) break;
        CHECK(ev.kind == YLOKH_EVENT_TOKEN && ev.text[ev.len] == 0, "token event");
        memcpy(text + len, ev.text, ev.len);
        len += ev.len;
    }
    text[len] = 0;
    CHECK(ev.kind == YLOKH_EVENT_DONE && ev.result && ev.result->status == YLOKH_OK, "done");
    CHECK(strcmp(text, expected_text) == 0, "pulled text: %s", text);
    CHECK(ylokh_request_next(req, 0, &ev) == YLOKH_OK && ev.kind == YLOKH_EVENT_DONE, "DONE again");
    CHECK(ylokh_request_wait(req, UINT64_MAX) == YLOKH_OK, "wait after pull");
    ylokh_request_free(req);
    ylokh_client_free(c);

    c = client_for("slowstart", NULL);
    CHECK(ylokh_chat_start(c, NULL, HELLO, 2, NULL, true, NULL, &req) == YLOKH_OK, "pull start");
    CHECK(ylokh_request_next(req, 0, &ev) == YLOKH_PENDING, "nothing yet");
    CHECK(ylokh_request_next(req, 50, &ev) == YLOKH_PENDING, "nothing within 50 ms");
    ylokh_request_free(req);
    ylokh_client_free(c);

    c = client_for("trickle", NULL);
    rec *r = rec_new();
    req = start_trickle(c, r);
    CHECK(ylokh_request_next(req, 0, &ev) == YLOKH_INVALID_ARGUMENT, "next on a callback request");
    ylokh_request_free(req);
    await_done(r);
    free(r);
    ylokh_client_free(c);

    c = client_for("nonstream", NULL);
    char *out = NULL;
    size_t out_len = 0;
    CHECK(ylokh_chat_complete(c, NULL, HELLO, 2, NULL, &out, &out_len) == YLOKH_OK, "complete: %s", ylokh_last_error());
    CHECK(out && strcmp(out, expected_text) == 0 && out_len == strlen(expected_text), "complete text");
    ylokh_string_free(out);
    ylokh_client_free(c);
    c = client_for("nomessages", NULL);
    out = NULL;
    CHECK(ylokh_chat_complete(c, NULL, HELLO, 2, NULL, &out, &out_len) == YLOKH_HTTP_STATUS, "complete error");
    CHECK(out == NULL && strstr(ylokh_last_error(), "'messages' is required"), "last error: %s", ylokh_last_error());
    ylokh_client_free(c);
}

static int log_records, log_leaks, log_seen;
/* The records the contract promises: connect, request sent, retry with its delay, status, first
 * byte, done with timing, cancel. */
static const char *LOG_KINDS[] = {"connecting to ", "connected to ", "POST ", "retrying in ", "response ",
                                  "first body byte after ", "request done: ", "request cancelled after "};
static void on_log(void *ud, uint32_t level, const char *message, size_t len) {
    (void)ud;
    (void)level;
    __atomic_add_fetch(&log_records, 1, __ATOMIC_SEQ_CST);
    if (strstr(message, "sk-secret-456") || message[len] != 0) __atomic_add_fetch(&log_leaks, 1, __ATOMIC_SEQ_CST);
    for (size_t i = 0; i < sizeof LOG_KINDS / sizeof LOG_KINDS[0]; i++)
        if (strstr(message, LOG_KINDS[i])) __atomic_or_fetch(&log_seen, 1 << i, __ATOMIC_SEQ_CST);
}
static void secret_key(ylokh_options *o) { ylokh_options_set_api_key(o, "sk-secret-456"); }

static void read_timeout_500(ylokh_options *o) { ylokh_options_set_read_timeout_ms(o, 500); }
static void total_timeout_500(ylokh_options *o) { ylokh_options_set_timeout_ms(o, 500); }
static void secret_and_read_timeout(ylokh_options *o) {
    ylokh_options_set_api_key(o, "sk-secret-456");
    ylokh_options_set_read_timeout_ms(o, 500);
}

static void test_secrets_and_logging(void) {
    CHECK(ylokh_set_log_callback(YLOKH_LOG_TRACE, on_log, NULL) == YLOKH_OK, "log on");
    rec *r = run_scenario("unauthorized", secret_key, true);
    CHECK(r->status == YLOKH_HTTP_STATUS && r->http_status == 401, "401");
    CHECK(!strstr(r->message, "sk-secret-456") && strstr(r->message, "[redacted]") && strstr(r->message, "check the API key"), "message: %s", r->message);
    free(r);
    /* Every failure path, with the key set and every log record checked. */
    const char *paths[] = {"errorinstream", "errorevent", "truncated", "badevent", "html", "jsonerror", "503always", "badjson", "weird", "stall"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        rec *p = run_scenario(paths[i], secret_and_read_timeout, true);
        CHECK(p->status != YLOKH_OK && p->message[0], "%s failed", paths[i]);
        CHECK(!strstr(p->message, "sk-secret-456"), "%s: the key is in the message", paths[i]);
        free(p);
    }
    const char *urls[] = {"http://127.0.0.1:9/v1", "https%s/stream/v1"};
    for (int i = 0; i < 2; i++) {
        char url[256];
        snprintf(url, sizeof url, urls[i], server + 4);
        ylokh_options *o = ylokh_options_new_compatible(url);
        secret_key(o);
        ylokh_options_set_max_retries(o, 0);
        ylokh_client *c = NULL;
        ylokh_client_new(o, &c);
        ylokh_options_free(o);
        rec *p = run(c, NULL, true, NULL);
        ylokh_client_free(c);
        CHECK(p->status != YLOKH_OK && !strstr(p->message, "sk-secret-456"), "%s: %s", url, p->message);
        CHECK(!strstr(ylokh_last_error(), "sk-secret-456"), "last error");
        free(p);
    }
    /* A stream that succeeds (first byte, done), one retried after a 429, one cancelled. */
    free(run_scenario("stream", secret_key, true));
    free(run_scenario("429once-logging", secret_key, true));
    rec *cancelled = rec_new();
    cancelled->cancel_after = 2;
    ylokh_client *c = client_for("trickle", secret_key);
    run(c, NULL, true, cancelled);
    ylokh_client_free(c);
    CHECK(cancelled->status == YLOKH_CANCELLED, "cancelled: %u", cancelled->status);
    free(cancelled);
    CHECK(ylokh_set_log_callback(0, NULL, NULL) == YLOKH_OK, "log off");
    CHECK(log_records >= 2 && log_leaks == 0, "%d records, %d leaks", log_records, log_leaks);
    for (size_t i = 0; i < sizeof LOG_KINDS / sizeof LOG_KINDS[0]; i++)
        CHECK(log_seen & (1 << i), "a log record with '%s'", LOG_KINDS[i]);
}

static void test_bad_arguments(void) {
    const char bad_utf8[] = {'h', (char)0xC3, (char)0x28, 0};
    ylokh_options *o = ylokh_options_new();
    CHECK(ylokh_options_new_compatible(NULL) == NULL && strstr(ylokh_last_error(), "base_url must not be NULL"), "NULL url");
    CHECK(ylokh_options_new_compatible("nope") == NULL && strstr(ylokh_last_error(), "not a valid base URL"), "bad url");
    CHECK(ylokh_options_new_compatible(bad_utf8) == NULL && strstr(ylokh_last_error(), "not valid UTF-8"), "utf8");
    CHECK(ylokh_options_set_base_url(NULL, "http://x") == YLOKH_INVALID_ARGUMENT, "NULL opts");
    CHECK(ylokh_options_set_header(o, "X-A", "a\r\nb: c") == YLOKH_INVALID_ARGUMENT, "CRLF header");
    CHECK(ylokh_options_set_header(o, "X-A", bad_utf8) == YLOKH_INVALID_ARGUMENT, "utf8 header");
    CHECK(ylokh_options_set_default_params(o, "{oops") == YLOKH_INVALID_ARGUMENT, "bad json");
    CHECK(ylokh_options_set_default_params(o, "[]") == YLOKH_INVALID_ARGUMENT, "not an object");
    CHECK(ylokh_options_set_proxy(o, "gopher://x") == YLOKH_INVALID_ARGUMENT, "bad proxy");
    CHECK(ylokh_options_set_worker_threads(o, 0) == YLOKH_INVALID_ARGUMENT, "0 threads");
    CHECK(ylokh_options_add_ca_file(o, "/nonexistent.pem") == YLOKH_INVALID_ARGUMENT, "ca file");
    CHECK(ylokh_options_set_proxy(o, "socks5h://127.0.0.1:1080") == YLOKH_OK && ylokh_options_set_proxy(o, NULL) == YLOKH_OK, "proxy");
    ylokh_client *c = (ylokh_client *)0x1;
    CHECK(ylokh_client_new(o, NULL) == YLOKH_INVALID_ARGUMENT, "NULL out");
    CHECK(ylokh_client_new(o, &c) == YLOKH_OK, "client");
    ylokh_options_free(o);
    ylokh_request *req = (ylokh_request *)0x1;
    ylokh_message bad[] = {{"user", bad_utf8}};
    ylokh_message null_role[] = {{NULL, "x"}};
    CHECK(ylokh_chat_start(NULL, NULL, HELLO, 2, NULL, true, NULL, &req) == YLOKH_INVALID_ARGUMENT, "NULL client");
    CHECK(ylokh_chat_start(c, NULL, NULL, 2, NULL, true, NULL, &req) == YLOKH_INVALID_ARGUMENT, "NULL messages");
    CHECK(ylokh_chat_start(c, NULL, bad, 1, NULL, true, NULL, &req) == YLOKH_INVALID_ARGUMENT &&
              strstr(ylokh_last_error(), "messages[0].content is not valid UTF-8"), "utf8 content: %s", ylokh_last_error());
    CHECK(ylokh_chat_start(c, NULL, null_role, 1, NULL, true, NULL, &req) == YLOKH_INVALID_ARGUMENT, "NULL role");
    CHECK(ylokh_chat_start(c, NULL, HELLO, 2, "{bad", true, NULL, &req) == YLOKH_INVALID_ARGUMENT &&
              strstr(ylokh_last_error(), "params_json are not valid JSON"), "bad params: %s", ylokh_last_error());
    CHECK(ylokh_chat_start(c, bad_utf8, HELLO, 2, NULL, true, NULL, &req) == YLOKH_INVALID_ARGUMENT, "utf8 model");
    CHECK(ylokh_chat_start(c, NULL, HELLO, 2, NULL, true, NULL, NULL) == YLOKH_INVALID_ARGUMENT, "NULL out");
    CHECK(req == (ylokh_request *)0x1, "out untouched on failure");
    CHECK(ylokh_request_cancel(NULL) == YLOKH_INVALID_ARGUMENT && ylokh_request_wait(NULL, 0) == YLOKH_INVALID_ARGUMENT, "NULL req");
    CHECK(ylokh_request_next(NULL, 0, NULL) == YLOKH_INVALID_ARGUMENT, "NULL next");
    CHECK(ylokh_chat_complete(c, NULL, HELLO, 2, NULL, NULL, NULL) == YLOKH_INVALID_ARGUMENT, "NULL out_text");
    ylokh_request_free(NULL);
    ylokh_client_free(NULL);
    ylokh_options_free(NULL);
    ylokh_string_free(NULL);
    ylokh_client_free(c);
    CHECK(strcmp(ylokh_status_str(YLOKH_TIMEOUT), "YLOKH_TIMEOUT") == 0 && strcmp(ylokh_status_str(12345), "YLOKH_UNKNOWN_STATUS") == 0, "names");
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", YLOKH_VERSION_MAJOR, YLOKH_VERSION_MINOR, YLOKH_VERSION_PATCH);
    CHECK(strcmp(ylokh_version(), version) == 0, "version %s", ylokh_version());
}

static long peak_rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
    if (f) fclose(f);
    return kib;
}


/* Hostile servers. Run alone (argv[2] = "hostile") so that the peak resident memory is this
 * group's own. */
static void test_hostile(void) {
    rec *r = run_scenario("endlessline", NULL, true);
    CHECK(r->status == YLOKH_PROTOCOL && strstr(r->message, "larger than 16777216 bytes"), "1 GiB line: %s", r->message);
    long peak = peak_rss_kib();
    printf("hostile: peak resident memory after the 1 GiB line: %ld KiB\n", peak);
    CHECK(peak > 0 && peak < 64 * 1024, "peak resident memory %ld KiB", peak);
    free(r);
    r = run_scenario("bytepersecond", read_timeout_500, true);
    CHECK(r->status == YLOKH_TIMEOUT && strstr(r->message, "read timeout"), "byte per second: %s", r->message);
    free(r);
    r = run_scenario("silent", total_timeout_500, true);
    CHECK(r->status == YLOKH_TIMEOUT && strstr(r->message, "500 ms time limit"), "silent: %s", r->message);
    free(r);
    r = run_scenario("silent", read_timeout_500, true);
    CHECK(r->status == YLOKH_TIMEOUT && strstr(r->message, "response headers"), "silent, read timeout: %s", r->message);
    free(r);
    r = run_scenario("redirect", secret_and_read_timeout, false);
    CHECK(r->status == YLOKH_OK, "redirect: %s", r->message);
    CHECK(strstr(r->text, "host: localhost:") && !strstr(r->text, "authorization") && !strstr(r->text, "sk-secret-456"),
          "the redirect to another origin carried credentials:\n%s", r->text);
    free(r);
    r = run_scenario("redirectloop", NULL, true);
    CHECK(r->status == YLOKH_PROTOCOL && strstr(r->message, "redirected too many times"), "loop: %s", r->message);
    free(r);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s http://127.0.0.1:PORT\n", argv[0]);
        return 2;
    }
    server = argv[1];
    struct { const char *name; void (*fn)(void); } tests[] = {
        {"fixtures", test_fixtures},
        {"decoder_rules_and_reasoning", test_decoder_rules_and_reasoning},
        {"errors", test_errors},
        {"cancel_abort_wait", test_cancel_abort_wait},
        {"client_free_in_flight", test_client_free_in_flight},
        {"concurrent", test_concurrent},
        {"body_headers_and_pooling", test_body_headers_and_pooling},
        {"pull_and_complete", test_pull_and_complete},
        {"secrets_and_logging", test_secrets_and_logging},
        {"bad_arguments", test_bad_arguments},
        {"hostile", test_hostile},
    };
    const char *only = argc > 2 ? argv[2] : NULL;
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        /* "hostile" runs only when asked for by name: it measures the process's peak memory. */
        if (only ? strcmp(only, tests[i].name) != 0 : strcmp(tests[i].name, "hostile") == 0) continue;
        int before = failures;
        tests[i].fn();
        if (failures == before) {
            passed++;
            printf("ok   %s\n", tests[i].name);
        } else {
            failed++;
            printf("FAIL %s\n", tests[i].name);
        }
    }
    printf("c api: %d checks, %d tests passed, %d failed\n", checks, passed, failed);
    return failed ? 1 : 0;
}
