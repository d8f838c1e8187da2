/* A terminal chat on libylokh: multi-turn, answers streamed as they arrive.
 *
 *   you> Why is the sky blue?
 *   Because ...
 *   42 tokens, 31.5 tokens/s, first token 180 ms, total 1.5 s, usage: prompt 12, completion 42,
 *   total 54, finish: stop                                                   (dim)
 *
 * Ctrl-C cancels the answer being written and returns to the prompt; at the prompt, a second
 * Ctrl-C in a row quits (as do /quit and Ctrl-D). Commands: /reset (forget the conversation,
 * keep the system message), /model NAME, /system TEXT, /api chat|responses|messages (the
 * server's wire API; YLOKH_API sets the first one), /quit.
 *
 * Environment, as for chat.c: YLOKH_BASE_URL (none: the Ylokh preset), YLOKH_API_KEY,
 * YLOKH_MODEL, YLOKH_PARAMS (a JSON object merged into every request body; by default
 * {"stream_options":{"include_usage":true}}, so that usage can be shown).
 *
 * Threads: tokens are printed by on_token on a library thread; the main thread waits for the
 * request in short steps so that it can cancel it when Ctrl-C arrives (a signal handler may
 * only set a flag: no library call is async-signal-safe).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ylokh.h"

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

/* A growable string. */
typedef struct {
    char *s;
    size_t len, cap;
} buf;

static void buf_add(buf *b, const char *text, size_t len) {
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + len + 1 > cap) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, text, len);
    b->len += len;
    b->s[b->len] = 0;
}

/* The conversation: history[0] is the system message when there is one. */
static ylokh_message *history;
static size_t n_history, cap_history;
static char *system_text, *model;

static void push(const char *role, const char *content) {
    if (n_history == cap_history) {
        cap_history = cap_history ? cap_history * 2 : 16;
        history = realloc(history, cap_history * sizeof *history);
        if (!history) exit(1);
    }
    history[n_history].role = role;
    history[n_history].content = strdup(content);
    n_history++;
}

static void reset(void) {
    for (size_t i = 0; i < n_history; i++) free((char *)history[i].content);
    n_history = 0;
    if (system_text) push("system", system_text);
}

/* What one answer collects; written by the library thread, read after wait returns. */
typedef struct {
    buf text;
    size_t tokens;
    struct timespec first, last;
    ylokh_status status;
    char *message, *finish_reason;
    int64_t prompt_tokens, completion_tokens, total_tokens;
    int64_t ttft_ms, duration_ms;
    double tokens_per_s;
    uint32_t retries, resumes;
} answer;

static double seconds(struct timespec a, struct timespec b) {
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static int on_token(void *user_data, const char *text, size_t len) {
    answer *a = user_data;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (a->tokens++ == 0) a->first = now;
    a->last = now;
    buf_add(&a->text, text, len);
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

static void on_done(void *user_data, const ylokh_result *r) {
    answer *a = user_data;
    a->status = r->status;
    a->message = r->message ? strdup(r->message) : NULL;
    a->finish_reason = r->finish_reason ? strdup(r->finish_reason) : NULL;
    a->prompt_tokens = r->prompt_tokens;
    a->completion_tokens = r->completion_tokens;
    a->total_tokens = r->total_tokens;
    a->ttft_ms = r->ttft_ms;
    a->duration_ms = r->duration_ms;
    a->tokens_per_s = r->tokens_per_s;
    a->retries = r->retries;
    a->resumes = r->resumes;
}

static const char *dim_on, *dim_off;

static void print_stats(const answer *a) {
    /* The library's own measure; this program's clock when it had none. */
    double span = a->tokens > 1 ? seconds(a->first, a->last) : 0;
    double rate = a->tokens_per_s >= 0 ? a->tokens_per_s
                  : span > 0          ? (double)(a->tokens - 1) / span
                                      : -1;
    printf("%s%zu tokens", dim_on, a->tokens);
    if (rate >= 0) printf(", %.1f tokens/s", rate);
    if (a->ttft_ms >= 0) printf(", first token %lld ms", (long long)a->ttft_ms);
    if (a->duration_ms >= 0) printf(", total %.1f s", (double)a->duration_ms / 1000.0);
    if (a->retries) printf(", %u retries", (unsigned)a->retries);
    if (a->resumes) printf(", %u resumes", (unsigned)a->resumes);
    if (a->total_tokens >= 0)
        printf(", usage: prompt %lld, completion %lld, total %lld", (long long)a->prompt_tokens,
               (long long)a->completion_tokens, (long long)a->total_tokens);
    if (a->finish_reason) printf(", finish: %s", a->finish_reason);
    printf("%s\n", dim_off);
}

/* Sends the conversation and streams the answer; Ctrl-C cancels it. */
static void ask(ylokh_client *client, const char *params) {
    answer a = {0};
    ylokh_callbacks cb = {0};
    cb.user_data = &a;
    cb.on_token = on_token;
    cb.on_done = on_done;
    ylokh_request *req = NULL;
    interrupted = 0;
    ylokh_status st = ylokh_chat_start(client, model, history, n_history, params, true, &cb, &req);
    if (st != YLOKH_OK) {
        printf("error: %s: %s\n", ylokh_status_str(st), ylokh_last_error());
        free((char *)history[--n_history].content);
        return;
    }
    while (ylokh_request_wait(req, 50) == YLOKH_PENDING)
        if (interrupted) ylokh_request_cancel(req);
    ylokh_request_free(req);
    if (a.text.len && a.text.s[a.text.len - 1] != '\n') printf("\n");
    if (a.status == YLOKH_OK || a.status == YLOKH_CANCELLED) {
        if (a.status == YLOKH_CANCELLED) printf("%s[cancelled]%s\n", dim_on, dim_off);
        /* What was shown stays in the conversation, even when cut short. */
        if (a.text.len)
            push("assistant", a.text.s);
        else
            free((char *)history[--n_history].content);
        print_stats(&a);
    } else {
        printf("error: %s: %s\n", ylokh_status_str(a.status), a.message ? a.message : "");
        free((char *)history[--n_history].content); /* the question goes, to be asked again */
    }
    interrupted = 0;
    free(a.text.s);
    free(a.message);
    free(a.finish_reason);
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ')) s[--n] = 0;
    return s;
}

/* A client for YLOKH_BASE_URL (none: the Ylokh preset) and YLOKH_API_KEY that speaks `api`
 * ("chat", "responses" or "messages"; NULL or empty: chat); NULL after printing why not. */
static ylokh_client *new_client(const char *api) {
    uint32_t which = !api || !*api || !strcmp(api, "chat") ? YLOKH_API_CHAT_COMPLETIONS
                     : !strcmp(api, "responses")           ? YLOKH_API_RESPONSES
                     : !strcmp(api, "messages")            ? YLOKH_API_MESSAGES
                                                           : 0;
    const char *base_url = getenv("YLOKH_BASE_URL"), *key = getenv("YLOKH_API_KEY");
    ylokh_options *opts = base_url && *base_url ? ylokh_options_new_compatible(base_url) : ylokh_options_new();
    ylokh_client *client = NULL;
    if (!opts || ylokh_options_set_api(opts, which) != YLOKH_OK ||
        (key && *key && ylokh_options_set_api_key(opts, key) != YLOKH_OK) ||
        ylokh_client_new(opts, &client) != YLOKH_OK) {
        fprintf(stderr, "error: %s (api: chat, responses or messages)\n", ylokh_last_error());
        client = NULL;
    }
    ylokh_options_free(opts);
    return client;
}

int main(void) {
    int tty = isatty(STDOUT_FILENO);
    dim_on = tty ? "\033[2m" : "";
    dim_off = tty ? "\033[0m" : "";

    ylokh_client *client = new_client(getenv("YLOKH_API"));
    if (!client) return 1;
    const char *m = getenv("YLOKH_MODEL");
    model = m && *m ? strdup(m) : NULL;
    /* Usage comes unasked: the compatible preset asks chat streams for it. */
    const char *params = getenv("YLOKH_PARAMS");
    if (params && !*params) params = NULL;

    /* No SA_RESTART: Ctrl-C interrupts the read at the prompt. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    printf("libylokh %s chat. /reset, /model NAME, /system TEXT, /api NAME, /quit; Ctrl-C stops an answer.\n",
           ylokh_version());
    char line[8192];
    int armed = 0; /* a Ctrl-C at the prompt; a second one quits */
    for (;;) {
        printf("you> ");
        fflush(stdout);
        interrupted = 0;
        if (!fgets(line, sizeof line, stdin)) {
            if (errno == EINTR && interrupted) {
                clearerr(stdin);
                errno = 0;
                if (armed) {
                    printf("\n");
                    break;
                }
                armed = 1;
                printf("\n%s(Ctrl-C again or /quit to leave)%s\n", dim_on, dim_off);
                continue;
            }
            printf("\n");
            break; /* Ctrl-D */
        }
        armed = 0;
        char *text = trim(line);
        if (!*text) continue;
        if (!strcmp(text, "/quit")) break;
        if (!strcmp(text, "/reset")) {
            reset();
            printf("%s(conversation cleared)%s\n", dim_on, dim_off);
            continue;
        }
        if (!strncmp(text, "/model ", 7) && *trim(text + 7)) {
            free(model);
            model = strdup(trim(text + 7));
            printf("%s(model: %s)%s\n", dim_on, model, dim_off);
            continue;
        }
        if (!strncmp(text, "/system ", 8) && *trim(text + 8)) {
            free(system_text);
            system_text = strdup(trim(text + 8));
            /* Replace the system message in place, or put one first. */
            if (n_history && !strcmp(history[0].role, "system")) {
                free((char *)history[0].content);
                history[0].content = strdup(system_text);
            } else {
                push("system", system_text); /* at the end: move it to the front */
                ylokh_message sys = history[n_history - 1];
                memmove(history + 1, history, (n_history - 1) * sizeof *history);
                history[0] = sys;
            }
            printf("%s(system: %s)%s\n", dim_on, system_text, dim_off);
            continue;
        }
        if (!strncmp(text, "/api ", 5) && *trim(text + 5)) {
            /* The dialect is a client setting: a new client, the same conversation. */
            ylokh_client *other = new_client(trim(text + 5));
            if (other) {
                ylokh_client_free(client);
                client = other;
                printf("%s(api: %s)%s\n", dim_on, trim(text + 5), dim_off);
            }
            continue;
        }
        if (text[0] == '/') {
            printf("commands: /reset, /model NAME, /system TEXT, /api chat|responses|messages, /quit\n");
            continue;
        }
        push("user", text);
        ask(client, params);
    }
    ylokh_client_free(client);
    reset();
    free(history);
    free(model);
    free(system_text);
    return 0;
}
