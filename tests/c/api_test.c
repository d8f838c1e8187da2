/* The C API as a C user sees it, against the loopback test server (tests/support/mod.rs).
 * Usage: api_test http://127.0.0.1:PORT
 * Every request's callbacks are recorded and checked: on_done ran exactly once, last, never on
 * the starting thread, and the callbacks of one request never overlapped. The 0.2 tests (ylokh_chat_send,
 * tool calls, message_json, TOOL_CALL events, conversations) record every callback as a line in
 * rec.events and compare the exact order. */
#define _GNU_SOURCE
#include "ylokh.h"
#include "common.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *server;
YLOKH_TEST_COUNTERS;

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
    /* 0.2: what the callbacks saw, one line each ("R:", "T:", "d:", "C:", "D:"), in order */
    char events[8192];
    size_t elen;
    int deltas, calls, tool_bad, tokens_after_call, cb_after_stop, stopped;
    char why_bad[512];
    char first_call_id[64], first_call_args[256];
    int abort_delta_at, abort_call_at;        /* return non-zero from this delta / call (1-based) */
    int free_in_delta_at, free_in_call_at;    /* ylokh_request_free(req) inside this delta / call */
    int cancel_in_call_at;                    /* ylokh_request_cancel(req) inside this call */
    ylokh_client *free_client_in_delta;       /* ylokh_client_free inside the first delta */
    int sleep_in_delta;                       /* first delta: set reached_delta, sleep 100 ms */
    atomic_int reached_delta;
    int has_message_json;
    char message_json[8192];
    uint32_t n_tool_calls;
} rec;

static rec *rec_new(void) {
    rec *r = calloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->starter = pthread_self();
    r->status = 999;
    return r;
}

static void note(rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(rec *r, const char *fmt, ...) {
    if (r->elen + 1 >= sizeof r->events) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->events + r->elen, sizeof r->events - r->elen, fmt, ap);
    va_end(ap);
    if (n > 0) r->elen = r->elen + (size_t)n < sizeof r->events ? r->elen + (size_t)n : sizeof r->events - 1;
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
    note(r, "T:%.*s\n", (int)len, text);
    if (r->calls) r->tokens_after_call++;
    if (r->stopped) r->cb_after_stop++;
    if (r->tokens == r->abort_after) rc = 7;
    if (r->tokens == r->cancel_after) {
        ylokh_request_cancel(r->req);
        r->stopped = 1;
    }
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
    note(r, "R:%.*s\n", (int)len, text);
    if (r->calls) r->tokens_after_call++;
    if (r->stopped) r->cb_after_stop++;
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
    r->n_tool_calls = res->n_tool_calls;
    r->has_message_json = res->message_json != NULL;
    snprintf(r->message_json, sizeof r->message_json, "%s", res->message_json ? res->message_json : "");
    note(r, "D:%s:%s:%u\n", ylokh_status_str(res->status), res->finish_reason ? res->finish_reason : "-", res->n_tool_calls);
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

static const char *base(const char *scenario) { return scenario_url(server, scenario); }

static ylokh_client *client_for(const char *scenario, void (*tweak)(ylokh_options *)) {
    return client_or_exit(base(scenario), tweak);
}

static const ylokh_message HELLO[] = {{"system", "Be brief."}, {"user", "Say hello in three languages."}};

/* Runs one request to its end with a fresh recorder. */
static rec *run(ylokh_client *c, const char *params, bool stream, rec *r) {
    if (!r) r = rec_new();
    ylokh_callbacks cb = callbacks_for(r);
    /* Straight into r->req: the library writes *out before any callback can run, and a callback
     * may cancel through it at once. */
    ylokh_status s = ylokh_chat_start(c, NULL, HELLO, 2, params, stream, &cb, &r->req);
    if (s != YLOKH_OK) {
        fprintf(stderr, "start failed: %s\n", ylokh_last_error());
        exit(2);
    }
    ylokh_request *req = r->req;
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
static void total_timeout(ylokh_options *o) { ylokh_options_set_timeout_ms(o, 2000); }
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
        {"trickle", total_timeout, YLOKH_TIMEOUT, "2000 ms time limit", -1},
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
    CHECK(ylokh_chat_start(c, "m", HELLO, 2, NULL, true, &cb, &r->req) == YLOKH_OK, "start");
    return r->req;
}

static void test_cancel_abort_wait(void) {
    ylokh_client *c = client_for("trickle", NULL);

    rec *r = rec_new(); /* cancel from another thread */
    ylokh_request *req = start_trickle(c, r);
    AWAIT(__atomic_load_n(&r->tokens, __ATOMIC_ACQUIRE) > 0);
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
    /* The second token's callback makes both calls; complete_in_cb is set last. */
    AWAIT(__atomic_load_n(&r->complete_in_cb, __ATOMIC_ACQUIRE) != YLOKH_OK);
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

static int thread_count(void) { return (int)proc_status_field("Threads"); }

/* The thread count once it is back at `before` or below, waiting up to 30 s for a thread that is
 * still on its way out (a teardown thread, or a thread that ended just now and has not left the
 * kernel's count yet). A count that stays above `before` is a leaked thread. */
static int threads_settled(int before) {
    int now = thread_count();
    for (int i = 0; i < 1500 && now > before; i++) {
        usleep(20 * 1000);
        now = thread_count();
    }
    return now;
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
    {
        int after = threads_settled(before);
        CHECK(after <= before, "threads: %d before, %d after", before, after);
    }

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
    {
        int after = threads_settled(before);
        CHECK(after <= before, "the teardown finished: %d threads, %d before", after, before);
    }

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
    CHECK(strstr(r->text, "\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"}"), "messages, keys in their order");
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

static void pull_chunks(ylokh_options *o) { CHECK(ylokh_options_set_pull_chunks(o, true) == YLOKH_OK, "pull_chunks"); }

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

    /* With pull_chunks, each data event's JSON comes too, before its token (one per event: 50). */
    c = client_for("stream", pull_chunks);
    CHECK(ylokh_chat_start(c, NULL, HELLO, 2, NULL, true, NULL, &req) == YLOKH_OK, "pull start");
    int chunks = 0, tokens = 0;
    guard = 0;
    while (ylokh_request_next(req, UINT64_MAX, &ev) == YLOKH_OK && ev.kind != YLOKH_EVENT_DONE && ++guard < 1000) {
        if (ev.kind == YLOKH_EVENT_CHUNK) {
            CHECK(ev.len > 0 && ev.text[0] == '{' && ev.text[ev.len] == 0, "a chunk event is the event's JSON");
            chunks++;
        } else if (ev.kind == YLOKH_EVENT_TOKEN) {
            tokens++;
        }
    }
    CHECK(ev.kind == YLOKH_EVENT_DONE && ev.result->status == YLOKH_OK, "done with chunks");
    CHECK(chunks == 50 && tokens == 48, "pull_chunks: %d chunks, %d tokens", chunks, tokens);
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

/* ---- 0.2: ylokh_chat_send, tool calls, message_json, TOOL_CALL events, conversations ---- */

/* A small JSON checker: the position after one JSON value at `p`, or NULL. */
static const char *json_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}
static const char *json_string(const char *p) {
    if (!p || *p != '"') return NULL;
    for (p++; *p != '"'; p++) {
        if ((unsigned char)*p < 0x20) return NULL; /* also the end of the text */
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!isxdigit((unsigned char)p[i])) return NULL;
                p += 4;
            } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
                return NULL;
            }
        }
    }
    return p + 1;
}
static const char *json_digits(const char *p) {
    if (!isdigit((unsigned char)*p)) return NULL;
    while (isdigit((unsigned char)*p)) p++;
    return p;
}
static const char *json_value(const char *p, int depth) {
    if (!p || depth > 64) return NULL;
    p = json_ws(p);
    if (*p == '{' || *p == '[') {
        int object = *p == '{';
        char close = object ? '}' : ']';
        p = json_ws(p + 1);
        if (*p == close) return p + 1;
        for (;;) {
            if (object) {
                p = json_string(json_ws(p));
                if (!p) return NULL;
                p = json_ws(p);
                if (*p++ != ':') return NULL;
            }
            p = json_value(p, depth + 1);
            if (!p) return NULL;
            p = json_ws(p);
            if (*p == ',') {
                p++;
                continue;
            }
            return *p == close ? p + 1 : NULL;
        }
    }
    if (*p == '"') return json_string(p);
    if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0) return p + 4;
    if (strncmp(p, "false", 5) == 0) return p + 5;
    if (*p == '-') p++;
    p = json_digits(p);
    if (p && *p == '.') p = json_digits(p + 1);
    if (p && (*p == 'e' || *p == 'E')) {
        p++;
        if (*p == '+' || *p == '-') p++;
        p = json_digits(p);
    }
    return p;
}
static int json_valid(const char *s) {
    const char *end = s ? json_value(s, 0) : NULL;
    return end && *json_ws(end) == 0;
}
static int json_object(const char *s) { return json_valid(s) && *json_ws(s) == '{'; }
static int json_array(const char *s) { return json_valid(s) && *json_ws(s) == '['; }

static void tool_bad(rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tool_bad(rec *r, const char *fmt, ...) {
    r->tool_bad++;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why_bad, sizeof r->why_bad, fmt, ap);
    va_end(ap);
}

static int on_tool_call_delta(void *ud, const ylokh_tool_call *c) {
    rec *r = ud;
    enter(r);
    int rc = 0;
    if (r->stopped) r->cb_after_stop++;
    r->deltas++;
    if (!c->id || !c->arguments || c->arguments[c->arguments_len] != 0 || strlen(c->arguments) != c->arguments_len)
        tool_bad(r, "delta %d: id %p, arguments %p (len %zu) not NUL-terminated there", r->deltas, (void *)c->id,
                 (void *)c->arguments, c->arguments_len);
    if (c->arguments_valid) tool_bad(r, "delta %d: arguments_valid set in a delta", r->deltas);
    if (r->calls) tool_bad(r, "delta %d after a complete call", r->deltas);
    note(r, "d:%u:%s:%s:%s\n", c->index, c->id ? c->id : "(null)", c->name ? c->name : "-",
         c->arguments ? c->arguments : "(null)");
    if (r->deltas == r->abort_delta_at) rc = 5;
    if (r->deltas == r->free_in_delta_at) {
        r->stopped = 1;
        ylokh_request_free(r->req);
    }
    if (r->free_client_in_delta && r->deltas == 1) {
        r->stopped = 1;
        ylokh_client_free(r->free_client_in_delta);
    }
    if (r->sleep_in_delta && r->deltas == 1) {
        atomic_store(&r->reached_delta, 1);
        usleep(100 * 1000);
    }
    leave(r);
    return rc;
}

static int on_tool_call(void *ud, const ylokh_tool_call *c) {
    rec *r = ud;
    enter(r);
    int rc = 0;
    if (r->stopped) r->cb_after_stop++;
    if (!c->id || !c->name || !c->arguments || c->arguments[c->arguments_len] != 0 || strlen(c->arguments) != c->arguments_len) {
        tool_bad(r, "call %d: id %p name %p arguments %p (len %zu)", r->calls, (void *)c->id, (void *)c->name,
                 (void *)c->arguments, c->arguments_len);
    } else {
        if (c->arguments_valid != (json_object(c->arguments) != 0))
            tool_bad(r, "call %d: arguments_valid %d for [%s]", r->calls, c->arguments_valid, c->arguments);
        if (c->index != (uint32_t)r->calls) tool_bad(r, "call %d has index %u: not in index order", r->calls, c->index);
        if (r->calls == 0) {
            snprintf(r->first_call_id, sizeof r->first_call_id, "%s", c->id);
            snprintf(r->first_call_args, sizeof r->first_call_args, "%s", c->arguments);
        }
    }
    r->calls++;
    note(r, "C:%u:%s:%s:%s:%d\n", c->index, c->id ? c->id : "(null)", c->name ? c->name : "(null)",
         c->arguments ? c->arguments : "(null)", c->arguments_valid);
    if (r->calls == r->abort_call_at) rc = 9;
    if (r->calls == r->cancel_in_call_at) {
        r->stopped = 1;
        ylokh_request_cancel(r->req);
    }
    if (r->calls == r->free_in_call_at) {
        r->stopped = 1;
        ylokh_request_free(r->req);
    }
    leave(r);
    return rc;
}

/* A request with every callback, HELLO as its messages, streamed. */
static ylokh_chat_request chat_request_for(rec *r) {
    ylokh_chat_request q;
    memset(&q, 0, sizeof q);
    q.struct_size = sizeof q;
    q.messages = HELLO;
    q.n_messages = 2;
    q.stream = true;
    q.user_data = r;
    q.on_token = on_token;
    q.on_reasoning = on_reasoning;
    q.on_chunk = on_chunk;
    q.on_tool_call_delta = on_tool_call_delta;
    q.on_tool_call = on_tool_call;
    q.on_done = on_done;
    return q;
}

/* Sends `q` and waits for its end: through the handle, or through the recorder when a callback
 * frees the handle. */
static void send_and_wait(ylokh_client *c, const ylokh_chat_request *q, rec *r) {
    if (ylokh_chat_send(c, q, &r->req) != YLOKH_OK) {
        fprintf(stderr, "send failed: %s\n", ylokh_last_error());
        exit(2);
    }
    if (r->free_in_delta_at || r->free_in_call_at || r->free_in_done) {
        await_done(r);
    } else {
        ylokh_status w = ylokh_request_wait(r->req, UINT64_MAX);
        CHECK(w == r->status, "wait gave %u, on_done %u", w, r->status);
        ylokh_request_free(r->req);
    }
}

/* One ylokh_chat_send with every callback on a fresh client, checked like run_scenario. */
static rec *send_scenario(const char *scenario, rec *r, bool stream) {
    if (!r) r = rec_new();
    ylokh_client *c = client_for(scenario, NULL);
    ylokh_chat_request q = chat_request_for(r);
    q.stream = stream;
    send_and_wait(c, &q, r);
    ylokh_client_free(c);
    check_invariants(r, scenario);
    CHECK(r->tool_bad == 0, "%s: %s", scenario, r->why_bad);
    return r;
}

static const char PARALLEL_EVENTS[] =
    "d:0:call_A:get_weather:\n"
    "d:1:call_B:get_time:\n"
    "d:0:call_A:-:{\"city\":\n"
    "d:1:call_B:-:{\"tz\":\n"
    "d:0:call_A:-:\"Oslo\"}\n"
    "d:1:call_B:-:\"UTC\"}\n"
    "C:0:call_A:get_weather:{\"city\":\"Oslo\"}:1\n"
    "C:1:call_B:get_time:{\"tz\":\"UTC\"}:1\n"
    "D:YLOKH_OK:tool_calls:2\n";

static const char TEXTANDTOOLS_EVENTS[] =
    "R:The user wants the time.\n"
    "T:Checking \n"
    "T:the \"clock\"\xE2\x80\xA6\n"
    "d:0:call_t:get_time:\n"
    "d:0:call_t:-:{}\n"
    "C:0:call_t:get_time:{}:1\n"
    "D:YLOKH_OK:tool_calls:1\n";

static void test_tool_calls(void) {
    int before = thread_count();
    rec *r = send_scenario("replay3-tools.parallel", NULL, true);
    CHECK(r->status == YLOKH_OK && r->http_status == 200, "parallel: %s: %s", ylokh_status_str(r->status), r->message);
    CHECK(strcmp(r->events, PARALLEL_EVENTS) == 0, "parallel: the callbacks ran as\n%s", r->events);
    CHECK(r->n_tool_calls == 2 && r->calls == 2 && r->deltas == 6, "parallel: n_tool_calls %u, %d calls, %d deltas",
          r->n_tool_calls, r->calls, r->deltas);
    CHECK(strcmp(r->finish, "tool_calls") == 0 && r->prompt == 82 && r->completion == 17 && r->total == 99,
          "parallel: finish %s, usage %lld", r->finish, (long long)r->total);
    CHECK(r->chunks == 8 && r->tokens == 0, "parallel: %d chunks, %d tokens", r->chunks, r->tokens);
    CHECK(r->has_message_json && json_object(r->message_json), "parallel: message_json [%s]", r->message_json);
    CHECK(strstr(r->message_json, "\"role\":\"assistant\"") && strstr(r->message_json, "\"content\":null") &&
              strstr(r->message_json, "\"tool_calls\":[") && strstr(r->message_json, "\"id\":\"call_A\"") &&
              strstr(r->message_json, "\"id\":\"call_B\"") && strstr(r->message_json, "\"name\":\"get_time\"") &&
              strstr(r->message_json, "\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"") &&
              strstr(r->message_json, "\"type\":\"function\"") && !strstr(r->message_json, "reasoning_content"),
          "parallel: message_json [%s]", r->message_json);
    CHECK(strstr(r->message_json, "call_A") < strstr(r->message_json, "call_B"), "calls in index order");
    free(r);

    r = send_scenario("replay3-tools.textandtools", NULL, true);
    CHECK(r->status == YLOKH_OK, "textandtools: %s: %s", ylokh_status_str(r->status), r->message);
    CHECK(strcmp(r->events, TEXTANDTOOLS_EVENTS) == 0, "textandtools: the callbacks ran as\n%s", r->events);
    CHECK(r->n_tool_calls == 1 && r->tokens_after_call == 0, "textandtools: %u calls, %d tokens after a call",
          r->n_tool_calls, r->tokens_after_call);
    CHECK(strcmp(r->text, "Checking the \"clock\"\xE2\x80\xA6") == 0 && strcmp(r->reasoning, "The user wants the time.") == 0,
          "textandtools: text [%s] reasoning [%s]", r->text, r->reasoning);
    CHECK(json_object(r->message_json) && strstr(r->message_json, "\"content\":\"Checking the \\\"clock\\\"\xE2\x80\xA6\"") &&
              strstr(r->message_json, "\"reasoning_content\":\"The user wants the time.\"") &&
              strstr(r->message_json, "\"id\":\"call_t\"") && strstr(r->message_json, "\"arguments\":\"{}\""),
          "textandtools: message_json [%s]", r->message_json);
    free(r);

    /* Not streamed: message.tool_calls, no deltas, "" arguments become "{}". */
    r = send_scenario("replay3-tools.nonstream", NULL, false);
    CHECK(r->status == YLOKH_OK, "nonstream: %s", r->message);
    CHECK(strcmp(r->events, "C:0:call_w1:get_weather:{\"city\":\"Paris\"}:1\nC:1:call_w2:get_time:{}:1\n"
                            "D:YLOKH_OK:tool_calls:2\n") == 0,
          "nonstream: the callbacks ran as\n%s", r->events);
    CHECK(json_object(r->message_json) && strstr(r->message_json, "call_w2"), "nonstream: [%s]", r->message_json);
    free(r);

    /* Arguments that end as invalid JSON: still handed out, marked invalid. */
    r = send_scenario("replay3-tools.badargs", NULL, true);
    CHECK(r->status == YLOKH_OK && r->calls == 1, "badargs: %s, %d calls", ylokh_status_str(r->status), r->calls);
    CHECK(strstr(r->events, "C:0:call_bad:calc:{\"a\":1,\"b\"::0\n"), "badargs:\n%s", r->events);
    CHECK(json_object(r->message_json), "badargs: message_json [%s]", r->message_json);
    free(r);

    /* A stream cut inside a call: INCOMPLETE, no complete call, message_json without calls. */
    r = send_scenario("replay3-tools.truncated", NULL, true);
    CHECK(r->status == YLOKH_INCOMPLETE, "truncated: %s: %s", ylokh_status_str(r->status), r->message);
    CHECK(r->calls == 0 && r->n_tool_calls == 0 && r->deltas >= 1, "truncated: %d calls (n_tool_calls %u), %d deltas",
          r->calls, r->n_tool_calls, r->deltas);
    CHECK(strncmp(r->events, "T:Let me check.\nd:0:call_cut:get_weather:", 41) == 0, "truncated:\n%s", r->events);
    CHECK(r->has_message_json && json_object(r->message_json) && !strstr(r->message_json, "tool_calls") &&
              strstr(r->message_json, "\"content\":\"Let me check.\""),
          "truncated: message_json [%s]", r->message_json);
    free(r);
    {
        int after = threads_settled(before);
        CHECK(after <= before, "threads: %d before, %d after", before, after);
    }
}

/* A stop from inside a callback (cancel, request free, client free) ends the request
 * YLOKH_CANCELLED with no callback but on_done after it, even when the rest of the answer was
 * already read: the request checks its cancel flag before every delivery. */
static const int strict = 1;

static void check_stopped_as(rec *r, const char *what, int max_calls_if_cancelled, int strict_here);

static void check_stopped(rec *r, const char *what, int max_calls_if_cancelled) {
    check_stopped_as(r, what, max_calls_if_cancelled, strict);
}

/* strict_here 0: a request that may have received its whole answer before the stop (a client
 * freed from another thread) may end OK, with its calls; the other checks stay. */
static void check_stopped_as(rec *r, const char *what, int max_calls_if_cancelled, int strict_here) {
    check_invariants(r, what);
    CHECK(r->tool_bad == 0, "%s: %s", what, r->why_bad);
    if (r->status == YLOKH_OK)
        CHECK(r->calls == 2 && r->n_tool_calls == 2 && strstr(r->message_json, "\"tool_calls\":["), "%s: OK, %d calls, [%s]", what,
              r->calls, r->message_json);
    else
        CHECK(r->status == YLOKH_CANCELLED && r->calls <= max_calls_if_cancelled && !strstr(r->message_json, "tool_calls"),
              "%s: %s, %d calls, [%s]", what, ylokh_status_str(r->status), r->calls, r->message_json);
    if (strict_here)
        CHECK(r->status == YLOKH_CANCELLED && r->cb_after_stop == 0, "%s: %s, %d callbacks after the stop:\n%s", what,
              ylokh_status_str(r->status), r->cb_after_stop, r->events);
}

/* Non-zero returns, cancel and free in the middle of a tool-call stream. */
static void test_tool_call_stops(void) {
    int before = thread_count();
    const char *parallel = "replay3-tools.parallel";
    ylokh_client *c;
    rec *r = rec_new();
    r->abort_delta_at = 1;
    send_scenario(parallel, r, true);
    CHECK(r->status == YLOKH_ABORTED && strstr(r->message, "on_tool_call_delta callback returned 5"), "abort in delta: %s: %s",
          ylokh_status_str(r->status), r->message);
    CHECK(r->deltas == 1 && r->calls == 0 && r->n_tool_calls == 0, "abort in delta: %d deltas, %d calls", r->deltas, r->calls);
    CHECK(r->has_message_json && json_object(r->message_json) && !strstr(r->message_json, "tool_calls"),
          "abort in delta: message_json [%s]", r->message_json);
    free(r);

    for (int at = 1; at <= 2; at++) {
        r = rec_new();
        r->abort_call_at = at;
        send_scenario(parallel, r, true);
        CHECK(r->status == YLOKH_ABORTED && strstr(r->message, "on_tool_call callback returned 9"), "abort in call %d: %s: %s", at,
              ylokh_status_str(r->status), r->message);
        CHECK(r->calls == at && r->deltas == 6, "abort in call %d: %d calls after it", at, r->calls);
        /* The call whose callback stopped the request was handed out: it counts. */
        CHECK(r->n_tool_calls == (uint32_t)at, "abort in call %d: n_tool_calls %u", at, r->n_tool_calls);
        CHECK(json_object(r->message_json) && !strstr(r->message_json, "tool_calls"), "abort in call %d: message_json [%s]", at,
              r->message_json);
        CHECK(strstr(r->events, "D:YLOKH_ABORTED:tool_calls:") != NULL, "abort in call %d:\n%s", at, r->events);
        free(r);
    }

    /* ylokh_request_free inside on_tool_call_delta: cancelled, no complete call. */
    r = rec_new();
    r->free_in_delta_at = 2;
    send_scenario(parallel, r, true);
    check_stopped(r, "free in delta", 0);
    free(r);

    /* ylokh_request_cancel and ylokh_request_free inside on_tool_call. */
    for (int mode = 0; mode < 2; mode++) {
        const char *what = mode ? "free in on_tool_call" : "cancel in on_tool_call";
        r = rec_new();
        if (mode) r->free_in_call_at = 1;
        else r->cancel_in_call_at = 1;
        send_scenario(parallel, r, true);
        check_stopped(r, what, 1);
        free(r);
    }

    /* The same with tokens: "streamcl" writes its 48 tokens at once; cancel inside the 3rd on_token
     * (see the FIXME above check_stopped). */
    r = rec_new();
    r->cancel_after = 3;
    c = client_for("streamcl", NULL);
    run(c, NULL, true, r);
    ylokh_client_free(c);
    check_invariants(r, "cancel in on_token, one read");
    CHECK(r->status == YLOKH_CANCELLED || (r->status == YLOKH_OK && r->tokens == 48), "cancel in on_token, one read: %s, %d tokens",
          ylokh_status_str(r->status), r->tokens);
    if (strict) CHECK(r->status == YLOKH_CANCELLED && r->tokens == 3, "cancel in on_token, one read: %d tokens", r->tokens);
    free(r);

    /* ylokh_client_free inside on_tool_call_delta: neither panics nor deadlocks. */
    c = client_for(parallel, NULL);
    r = rec_new();
    r->free_client_in_delta = c;
    ylokh_chat_request q = chat_request_for(r);
    CHECK(ylokh_chat_send(c, &q, &r->req) == YLOKH_OK, "send");
    await_done(r);
    ylokh_request_free(r->req);
    check_stopped(r, "client_free in delta", 0);
    free(r);
    {
        int after = threads_settled(before);
        CHECK(after <= before, "the teardown finished: %d threads, %d before", after, before);
    }

    /* ylokh_client_free from this thread while tool-call requests are inside a delta callback. */
    c = client_for(parallel, two_threads);
    enum { N = 4 };
    rec *rs[N];
    for (int i = 0; i < N; i++) {
        rs[i] = rec_new();
        rs[i]->sleep_in_delta = 1;
        q = chat_request_for(rs[i]);
        CHECK(ylokh_chat_send(c, &q, &rs[i]->req) == YLOKH_OK, "send %d", i);
    }
    AWAIT(atomic_load(&rs[0]->reached_delta));
    CHECK(atomic_load(&rs[0]->reached_delta), "a request reached its first delta");
    ylokh_client_free(c);
    for (int i = 0; i < N; i++) {
        CHECK(rs[i]->done_count == 1, "request %d: on_done had run %d times when client_free returned", i, rs[i]->done_count);
        CHECK(ylokh_request_wait(rs[i]->req, 0) == rs[i]->status, "handles outlive the client");
        ylokh_request_free(rs[i]->req);
        /* Two worker threads: a request other than rs[0] may have had its whole answer before the
         * free, and then YLOKH_OK is right ("unless it already ended"). */
        check_stopped_as(rs[i], "client_free with tool calls in flight", 0, 0);
        free(rs[i]);
    }
    {
        int after = threads_settled(before);
        CHECK(after <= before, "threads: %d before, %d after", before, after);
    }
}

static void test_pull_tool_calls(void) {
    int before = thread_count();
    struct { const char *scenario, *kinds; uint32_t n_calls; const char *ids[2]; } cases[] = {
        {"replay3-tools.textandtools", "RTTCD", 1, {"\"id\":\"call_t\"", NULL}},
        {"replay3-tools.parallel", "CCD", 2, {"\"id\":\"call_A\"", "\"id\":\"call_B\""}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *scenario = cases[i].scenario;
        ylokh_client *c = client_for(scenario, NULL);
        ylokh_chat_request q;
        memset(&q, 0, sizeof q);
        q.struct_size = sizeof q;
        q.messages = HELLO;
        q.n_messages = 2;
        q.stream = true;
        q.pull = true;
        ylokh_request *req = NULL;
        CHECK(ylokh_chat_send(c, &q, &req) == YLOKH_OK, "%s: pull send: %s", scenario, ylokh_last_error());
        char kinds[64] = "", text[256] = "";
        size_t nk = 0, tlen = 0;
        uint32_t calls = 0;
        ylokh_event ev;
        memset(&ev, 0, sizeof ev);
        for (int guard = 0; guard < 200; guard++) {
            ylokh_status s = ylokh_request_next(req, UINT64_MAX, &ev);
            CHECK(s == YLOKH_OK, "%s: next: %u", scenario, s);
            if (s != YLOKH_OK) break;
            if (nk + 1 < sizeof kinds) kinds[nk++] = "?TRXDC"[ev.kind <= 5 ? ev.kind : 0];
            kinds[nk] = 0;
            if (ev.kind == YLOKH_EVENT_TOKEN && tlen + ev.len < sizeof text) {
                memcpy(text + tlen, ev.text, ev.len);
                text[tlen += ev.len] = 0;
            }
            if (ev.kind == YLOKH_EVENT_TOOL_CALL) {
                CHECK(ev.text && ev.text[ev.len] == 0 && strlen(ev.text) == ev.len && ev.result == NULL, "%s: TOOL_CALL text", scenario);
                char index[32];
                snprintf(index, sizeof index, "\"index\":%u", calls);
                CHECK(json_object(ev.text) && strstr(ev.text, index) && calls < 2 && strstr(ev.text, cases[i].ids[calls]) &&
                          strstr(ev.text, "\"type\":\"function\"") && strstr(ev.text, "\"arguments\":\"{"),
                      "%s: TOOL_CALL %u: %s", scenario, calls, ev.text);
                calls++;
            }
            if (ev.kind == YLOKH_EVENT_DONE) break;
        }
        CHECK(strcmp(kinds, cases[i].kinds) == 0, "%s: events %s, expected %s", scenario, kinds, cases[i].kinds);
        CHECK(ev.kind == YLOKH_EVENT_DONE && ev.result && ev.result->status == YLOKH_OK && ev.result->n_tool_calls == cases[i].n_calls,
              "%s: DONE", scenario);
        if (ev.kind == YLOKH_EVENT_DONE && ev.result)
            CHECK(ev.result->message_json && json_object(ev.result->message_json) &&
                      strstr(ev.result->message_json, "\"tool_calls\":[") && strstr(ev.result->message_json, cases[i].ids[0]),
                  "%s: message_json [%s]", scenario, ev.result->message_json ? ev.result->message_json : "(null)");
        if (cases[i].n_calls == 1) CHECK(strcmp(text, "Checking the \"clock\"\xE2\x80\xA6") == 0, "pulled text [%s]", text);
        CHECK(ylokh_request_next(req, 0, &ev) == YLOKH_OK && ev.kind == YLOKH_EVENT_DONE && ev.result->n_tool_calls == cases[i].n_calls,
              "%s: DONE again", scenario);
        CHECK(ylokh_request_wait(req, UINT64_MAX) == YLOKH_OK, "%s: wait after pull", scenario);
        ylokh_request_free(req);
        ylokh_client_free(c);
    }

    /* pull with a callback set: refused, and no callback runs. */
    ylokh_client *c = client_for("replay3-tools.parallel", NULL);
    for (int which = 0; which < 3; which++) {
        rec *r = rec_new();
        ylokh_chat_request q;
        memset(&q, 0, sizeof q);
        q.struct_size = sizeof q;
        q.messages = HELLO;
        q.n_messages = 2;
        q.stream = true;
        q.pull = true;
        q.user_data = r;
        if (which == 0) q.on_done = on_done;
        if (which == 1) q.on_tool_call = on_tool_call;
        if (which == 2) q.on_tool_call_delta = on_tool_call_delta;
        ylokh_request *req = (ylokh_request *)0x1;
        ylokh_status s = ylokh_chat_send(c, &q, &req);
        const char *why = ylokh_last_error();
        CHECK(s == YLOKH_INVALID_ARGUMENT && why && strstr(why, "pull"), "pull with callback %d: %s: %s", which, ylokh_status_str(s),
              why ? why : "(null)");
        CHECK(req == (ylokh_request *)0x1, "out untouched");
        usleep(30 * 1000);
        CHECK(r->done_count == 0 && r->calls == 0 && r->deltas == 0, "no callback for a refused request");
        free(r);
    }
    ylokh_client_free(c);
    {
        int after = threads_settled(before);
        CHECK(after <= before, "threads: %d before, %d after", before, after);
    }
}

static void test_chat_send_arguments(void) {
    const char bad_utf8[] = {'h', (char)0xC3, (char)0x28, 0};
    ylokh_client *c = client_for("replay3-tools.parallel", NULL);
    ylokh_conversation *conv = ylokh_conversation_new();
    ylokh_conversation_add(conv, "user", "hi");
    rec *r = rec_new();
    struct { const char *needle; size_t struct_size; const ylokh_conversation *conversation; const char *tools, *params, *model; } bad[] = {
        {"struct_size", 0, NULL, NULL, NULL, NULL},
        {"struct_size", sizeof(size_t), NULL, NULL, NULL, NULL},
        {"conversation", sizeof(ylokh_chat_request), conv, NULL, NULL, NULL},
        {"tools_json", sizeof(ylokh_chat_request), NULL, "{\"not\":\"an array\"}", NULL, NULL},
        {"tools_json", sizeof(ylokh_chat_request), NULL, "[oops", NULL, NULL},
        {"params_json", sizeof(ylokh_chat_request), NULL, NULL, "[1]", NULL},
        {"UTF-8", sizeof(ylokh_chat_request), NULL, NULL, NULL, bad_utf8},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ylokh_chat_request q = chat_request_for(r);
        q.struct_size = bad[i].struct_size;
        q.conversation = bad[i].conversation;
        q.tools_json = bad[i].tools;
        q.params_json = bad[i].params;
        q.model = bad[i].model;
        ylokh_request *req = (ylokh_request *)0x1;
        ylokh_status s = ylokh_chat_send(c, &q, &req);
        const char *why = ylokh_last_error();
        CHECK(s == YLOKH_INVALID_ARGUMENT && why && strstr(why, bad[i].needle), "case %zu (%s): %s: %s", i, bad[i].needle,
              ylokh_status_str(s), why ? why : "(null)");
        CHECK(req == (ylokh_request *)0x1, "case %zu: out untouched", i);
    }
    ylokh_chat_request q = chat_request_for(r);
    ylokh_request *req = (ylokh_request *)0x1;
    CHECK(ylokh_chat_send(NULL, &q, &req) == YLOKH_INVALID_ARGUMENT, "NULL client");
    CHECK(ylokh_chat_send(c, NULL, &req) == YLOKH_INVALID_ARGUMENT, "NULL req");
    CHECK(ylokh_chat_send(c, &q, NULL) == YLOKH_INVALID_ARGUMENT, "NULL out");
    CHECK(req == (ylokh_request *)0x1, "out untouched");
    usleep(30 * 1000);
    CHECK(r->done_count == 0 && r->tokens == 0 && r->deltas == 0 && r->calls == 0 && r->chunks == 0,
          "a refused request ran callbacks:\n%s", r->events);

    /* A caller built against a struct that ends before the callbacks: they count as NULL. */
    q = chat_request_for(r);
    q.struct_size = offsetof(ylokh_chat_request, user_data);
    req = NULL;
    CHECK(ylokh_chat_send(c, &q, &req) == YLOKH_OK, "a shorter struct: %s", ylokh_last_error());
    CHECK(req && ylokh_request_wait(req, UINT64_MAX) == YLOKH_OK, "a shorter struct: the request ran: %s", ylokh_last_error());
    ylokh_request_free(req);
    usleep(30 * 1000);
    CHECK(r->done_count == 0 && r->tokens == 0 && r->deltas == 0 && r->calls == 0 && r->chunks == 0,
          "the callbacks were past struct_size, yet ran:\n%s", r->events);
    free(r);
    ylokh_conversation_free(conv);
    ylokh_client_free(c);
}

/* The number of messages and the JSON text, unchanged by a refused call. */
#define REFUSED(conv, call, json_before, what)                                                                        \
    do {                                                                                                              \
        size_t n_ = ylokh_conversation_len(conv);                                                                     \
        CHECK((call) == YLOKH_INVALID_ARGUMENT, "%s was not refused", what);                                          \
        CHECK(ylokh_conversation_len(conv) == n_, "%s changed the length", what);                                     \
        CHECK(strcmp(ylokh_conversation_json(conv), json_before) == 0, "%s changed the JSON", what);                  \
    } while (0)

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

static void test_conversations(void) {
    const char bad_utf8[] = {'h', (char)0xC3, (char)0x28, 0};
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, '\r', 'I', 'H', 'D', 'R',
                                        0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89};
    char png_path[128], txt_path[128];
    snprintf(png_path, sizeof png_path, "/tmp/ylokh_api_test_%d.png", (int)getpid());
    snprintf(txt_path, sizeof txt_path, "/tmp/ylokh_api_test_%d.txt", (int)getpid());
    write_file(png_path, png, sizeof png);
    write_file(txt_path, "hello, not an image\n", 20);

    ylokh_conversation *conv = ylokh_conversation_new();
    CHECK(conv && ylokh_conversation_len(conv) == 0 && json_array(ylokh_conversation_json(conv)), "a new conversation");
    CHECK(ylokh_conversation_add(conv, "system", "Be brief.") == YLOKH_OK, "add");
    const char *tricky = "quote \" backslash \\ newline \n tab \t bell \x07 unit \x1f emoji \xF0\x9F\xA6\x80 end";
    CHECK(ylokh_conversation_add(conv, "user", tricky) == YLOKH_OK, "add tricky: %s", ylokh_last_error());
    const char *json = ylokh_conversation_json(conv);
    CHECK(json_array(json), "json [%s]", json);
    static const char tricky_json[] = "quote \\\" backslash \\\\ newline \\n tab \\t bell \\u0007 unit \\u001f emoji \xF0\x9F\xA6\x80 end";
    CHECK(strcasestr(json, tricky_json), "escaped: %s", json);
    static char saved[1 << 16];
    snprintf(saved, sizeof saved, "%s", json);

    /* Refused calls change nothing, and `json` stays valid (read after each under ASan/valgrind). */
    REFUSED(conv, ylokh_conversation_add(NULL, "user", "x"), saved, "add to NULL");
    REFUSED(conv, ylokh_conversation_add(conv, NULL, "x"), saved, "add with a NULL role");
    REFUSED(conv, ylokh_conversation_add(conv, "user", NULL), saved, "add with NULL content");
    REFUSED(conv, ylokh_conversation_add(conv, bad_utf8, "x"), saved, "add with a non-UTF-8 role");
    REFUSED(conv, ylokh_conversation_add(conv, "user", bad_utf8), saved, "add with non-UTF-8 content");
    CHECK(strstr(ylokh_last_error(), "not valid UTF-8"), "last error: %s", ylokh_last_error());
    const char *bad_json[] = {NULL, "nope", "[1]", "{\"content\":\"x\"}", "{\"role\":5}", "", "{\"role\":\"user\"",
                              "{\"role\":\"user\",\"content\":\"h\xC3\x28\"}"};
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        char what[128];
        snprintf(what, sizeof what, "add_json #%zu", i);
        REFUSED(conv, ylokh_conversation_add_json(conv, bad_json[i]), saved, what);
    }
    REFUSED(conv, ylokh_conversation_add_json(NULL, "{\"role\":\"user\",\"content\":\"x\"}"), saved, "add_json to NULL");
    REFUSED(conv, ylokh_conversation_add_tool_result(NULL, "id", "x"), saved, "tool result to NULL");
    REFUSED(conv, ylokh_conversation_add_tool_result(conv, NULL, "x"), saved, "tool result with a NULL id");
    REFUSED(conv, ylokh_conversation_add_tool_result(conv, "id", NULL), saved, "tool result with NULL content");
    REFUSED(conv, ylokh_conversation_add_tool_result(conv, bad_utf8, "x"), saved, "tool result with a non-UTF-8 id");
    REFUSED(conv, ylokh_conversation_add_tool_result(conv, "id", bad_utf8), saved, "tool result with non-UTF-8 content");
    REFUSED(conv, ylokh_conversation_add_image(NULL, "user", NULL, png_path), saved, "image to NULL");
    REFUSED(conv, ylokh_conversation_add_image(conv, NULL, NULL, png_path), saved, "image with a NULL role");
    REFUSED(conv, ylokh_conversation_add_image(conv, "user", NULL, NULL), saved, "image NULL");
    REFUSED(conv, ylokh_conversation_add_image(conv, "user", bad_utf8, png_path), saved, "image with non-UTF-8 text");
    REFUSED(conv, ylokh_conversation_add_image(conv, "user", NULL, bad_utf8), saved, "image with a non-UTF-8 path");
    REFUSED(conv, ylokh_conversation_add_image(conv, "user", "x", txt_path), saved, "a text file as an image");
    REFUSED(conv, ylokh_conversation_add_image(conv, "user", "x", "/nonexistent/ylokh.png"), saved, "a missing file");
    REFUSED(conv, ylokh_conversation_truncate(conv, 3), saved, "truncate past the end");
    REFUSED(conv, ylokh_conversation_truncate(NULL, 0), saved, "truncate NULL");
    CHECK(ylokh_conversation_len(conv) == 2 && json == ylokh_conversation_json(conv) && strcmp(json, saved) == 0,
          "json() stays valid (and the same) until the next change");

    /* A previous answer's message_json, the tool's result, an image file and an image URL. */
    rec *r = send_scenario("replay3-tools.textandtools", NULL, true);
    CHECK(r->status == YLOKH_OK && r->has_message_json, "textandtools: %s", r->message);
    CHECK(ylokh_conversation_add_json(conv, r->message_json) == YLOKH_OK, "add_json(message_json): %s", ylokh_last_error());
    free(r);
    CHECK(ylokh_conversation_add_tool_result(conv, "call_t", "12:00 \"UTC\"") == YLOKH_OK, "tool result");
    CHECK(ylokh_conversation_add_image(conv, "user", "What is this?", png_path) == YLOKH_OK, "image file: %s", ylokh_last_error());
    CHECK(ylokh_conversation_add_image(conv, "user", NULL, "https://example.com/cat.jpg") == YLOKH_OK, "image URL");
    CHECK(ylokh_conversation_len(conv) == 6, "len %zu", ylokh_conversation_len(conv));
    json = ylokh_conversation_json(conv);
    CHECK(json_array(json), "json [%s]", json);
    CHECK(strstr(json, "\"reasoning_content\":\"The user wants the time.\"") && strstr(json, "\"id\":\"call_t\""), "the answer: %s", json);
    CHECK(strstr(json, "\"tool_call_id\":\"call_t\"") && strstr(json, "\"role\":\"tool\"") && strstr(json, "12:00 \\\"UTC\\\""),
          "the tool result: %s", json);
    CHECK(strstr(json, "\"url\":\"data:image/png;base64,iVBORw0KGgo") && strstr(json, "\"text\":\"What is this?\"") &&
              strstr(json, "\"type\":\"image_url\"") && strstr(json, "\"url\":\"https://example.com/cat.jpg\""),
          "the images: %s", json);

    /* Sent as the request's messages (copied at start: freed right after the send). */
    ylokh_client *c = client_for("echo", NULL);
    r = rec_new();
    ylokh_chat_request q = chat_request_for(r);
    q.messages = NULL;
    q.n_messages = 0;
    q.conversation = conv;
    q.stream = false;
    CHECK(ylokh_chat_send(c, &q, &r->req) == YLOKH_OK, "send a conversation: %s", ylokh_last_error());
    ylokh_conversation_free(conv);
    CHECK(ylokh_request_wait(r->req, UINT64_MAX) == YLOKH_OK, "echo: %s", r->message);
    ylokh_request_free(r->req);
    ylokh_client_free(c);
    check_invariants(r, "echo a conversation");
    CHECK(strcasestr(r->text, tricky_json) && strstr(r->text, "\"tool_call_id\":\"call_t\"") &&
              strstr(r->text, "data:image/png;base64,iVBORw0KGgo") && strstr(r->text, "\"reasoning_content\""),
          "the body sent: %s", r->text);
    free(r);

    /* truncate, and NULL. */
    conv = ylokh_conversation_new();
    ylokh_conversation_add(conv, "system", "one");
    ylokh_conversation_add(conv, "user", "two");
    ylokh_conversation_add(conv, "assistant", "three");
    CHECK(ylokh_conversation_truncate(conv, 3) == YLOKH_OK && ylokh_conversation_len(conv) == 3, "truncate to the length");
    CHECK(ylokh_conversation_truncate(conv, 1) == YLOKH_OK && ylokh_conversation_len(conv) == 1, "truncate");
    json = ylokh_conversation_json(conv);
    CHECK(json_array(json) && strstr(json, "one") && !strstr(json, "two"), "after truncate: %s", json);
    CHECK(ylokh_conversation_truncate(conv, 0) == YLOKH_OK && ylokh_conversation_len(conv) == 0 &&
              json_array(ylokh_conversation_json(conv)), "truncate to 0");
    ylokh_conversation_free(conv);
    ylokh_conversation_free(NULL);
    CHECK(ylokh_conversation_len(NULL) == 0 && ylokh_conversation_json(NULL) == NULL, "NULL conversation");
    unlink(png_path);
    unlink(txt_path);
}

/* The calculator the agent loop's model asks for: {"a": A, "op": "*", "b": B}. */
static int calc(const char *args, char *out, size_t size) {
    const char *a = strstr(args, "\"a\":"), *op = strstr(args, "\"op\":"), *b = strstr(args, "\"b\":");
    if (!a || !op || !b) return 0;
    long x = strtol(a + 4, NULL, 10), y = strtol(b + 4, NULL, 10);
    const char *q = strchr(op + 5, '"');
    if (!q) return 0;
    long v = q[1] == '*' ? x * y : q[1] == '+' ? x + y : q[1] == '-' ? x - y : 0;
    snprintf(out, size, "%ld", v);
    return 1;
}

static const char CALC_TOOL[] =
    "[{\"type\":\"function\",\"function\":{\"name\":\"calc\",\"description\":\"Arithmetic on two numbers\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},\"op\":{\"type\":\"string\"},"
    "\"b\":{\"type\":\"number\"}},\"required\":[\"a\",\"op\",\"b\"]}}}]";

/* A two-step agent loop: the model calls calc, the program answers, the model says the result. */
static void test_agent_loop(void) {
    int before = thread_count();
    ylokh_client *c = client_for("toolloop", NULL);
    ylokh_conversation *conv = ylokh_conversation_new();
    ylokh_conversation_add(conv, "system", "Use the calc tool for arithmetic.");
    ylokh_conversation_add(conv, "user", "What is 17 times 23?");
    rec *r = NULL;
    int steps = 0;
    for (steps = 1; steps <= 4; steps++) {
        r = rec_new();
        /* The request and what it points to may be freed right after the send returns. */
        ylokh_chat_request *q = malloc(sizeof *q);
        char *tools = strdup(CALC_TOOL);
        *q = chat_request_for(r);
        q->messages = NULL;
        q->n_messages = 0;
        q->conversation = conv;
        q->tools_json = tools;
        ylokh_status s = ylokh_chat_send(c, q, &r->req);
        memset(tools, 'x', strlen(tools));
        memset(q, 0xA5, sizeof *q);
        free(tools);
        free(q);
        CHECK(s == YLOKH_OK, "step %d: send: %s", steps, ylokh_last_error());
        if (s != YLOKH_OK) break;
        CHECK(ylokh_request_wait(r->req, UINT64_MAX) == r->status, "wait");
        ylokh_request_free(r->req);
        check_invariants(r, "agent loop");
        CHECK(r->tool_bad == 0, "step %d: %s", steps, r->why_bad);
        CHECK(r->status == YLOKH_OK, "step %d: %s: %s", steps, ylokh_status_str(r->status), r->message);
        CHECK(r->has_message_json && json_object(r->message_json), "step %d: message_json [%s]", steps, r->message_json);
        if (r->status != YLOKH_OK || r->calls == 0) break;
        CHECK(steps == 1 && strcmp(r->first_call_id, "call_calc_1") == 0 && r->n_tool_calls == 1 && strcmp(r->finish, "tool_calls") == 0,
              "step %d: call %s, n_tool_calls %u", steps, r->first_call_id, r->n_tool_calls);
        CHECK(strcmp(r->text, "Let me compute that.") == 0, "step 1 text [%s]", r->text);
        CHECK(ylokh_conversation_add_json(conv, r->message_json) == YLOKH_OK, "add the answer: %s", ylokh_last_error());
        char result[32];
        CHECK(calc(r->first_call_args, result, sizeof result), "calc arguments [%s]", r->first_call_args);
        CHECK(ylokh_conversation_add_tool_result(conv, r->first_call_id, result) == YLOKH_OK, "add the result");
        free(r);
        r = NULL;
    }
    CHECK(steps == 2, "the loop ended after %d steps", steps);
    if (r) {
        CHECK(r->status == YLOKH_OK && strstr(r->text, "391") && r->calls == 0 && r->n_tool_calls == 0, "final: %s [%s]",
              ylokh_status_str(r->status), r->text);
        CHECK(strstr(r->message_json, "391") && !strstr(r->message_json, "tool_calls"), "final message_json [%s]", r->message_json);
        CHECK(ylokh_conversation_len(conv) == 4, "system, user, assistant call, tool result: %zu", ylokh_conversation_len(conv));
        CHECK(ylokh_conversation_add_json(conv, r->message_json) == YLOKH_OK && ylokh_conversation_len(conv) == 5, "the final answer");
        free(r);
    }
    ylokh_conversation_free(conv);
    ylokh_client_free(c);
    {
        int after = threads_settled(before);
        CHECK(after <= before, "threads: %d before, %d after", before, after);
    }
}

static long peak_rss_kib(void) { return proc_status_field("VmHWM"); }


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
        {"tool_calls", test_tool_calls},
        {"tool_call_stops", test_tool_call_stops},
        {"pull_tool_calls", test_pull_tool_calls},
        {"chat_send_arguments", test_chat_send_arguments},
        {"conversations", test_conversations},
        {"agent_loop", test_agent_loop},
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
