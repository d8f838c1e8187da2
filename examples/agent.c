/* A multi-step tool-calling agent in plain C: the model may call two tools implemented here,
 * get_time (the local time) and calc (a op b); their results go back into the conversation and
 * the model is asked again, until it answers without a tool call or max_steps is reached.
 * Each step prints the streamed text, each tool call with its arguments, each result, and at
 * the end the final answer. Exit status: 0 with a final answer, 1 when a request failed or no
 * answer came within max_steps, 2 on a usage error.
 *
 * Environment: YLOKH_BASE_URL (e.g. http://127.0.0.1:8080/v1; default: the local server at
 * that address), YLOKH_API_KEY, YLOKH_MODEL, YLOKH_API (chat, responses or messages: the
 * server's wire API), YLOKH_PARAMS (a JSON object merged into every request body),
 * YLOKH_MAX_STEPS (default 4).
 *
 *   cc -Iinclude examples/agent.c -Ltarget/release -lylokh -o agent
 *   YLOKH_BASE_URL=$(examples/local-llm.sh start) ./agent "What is 17 times 23?"
 */
#include "ylokh.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CALLS 16

static const char *TOOLS =
    "[{\"type\":\"function\",\"function\":{\"name\":\"get_time\","
    "\"description\":\"The current local date and time.\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{}}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"calc\","
    "\"description\":\"Evaluate a op b for two numbers a and b.\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{"
    "\"a\":{\"type\":\"number\"},\"op\":{\"type\":\"string\",\"enum\":[\"+\",\"-\",\"*\",\"/\"]},"
    "\"b\":{\"type\":\"number\"}},\"required\":[\"a\",\"op\",\"b\"]}}}]";

/* What one step collected; the callbacks copy what they keep (their strings are borrowed). */
struct call {
    char *id, *name, *arguments;
    bool valid;
};
struct step {
    struct call calls[MAX_CALLS];
    size_t n_calls;
    char *message_json; /* the assistant message, for the conversation */
    ylokh_status status;
    char *error;
};

static char *copy(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c) memcpy(c, s, n);
    return c;
}

static int on_token(void *user_data, const char *text, size_t len) {
    (void)user_data;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

static int on_tool_call(void *user_data, const ylokh_tool_call *call) {
    struct step *step = user_data;
    if (step->n_calls == MAX_CALLS) return 1; /* more than we take: stop (YLOKH_ABORTED) */
    struct call *c = &step->calls[step->n_calls++];
    c->id = copy(call->id);
    c->name = copy(call->name);
    c->arguments = copy(call->arguments);
    c->valid = call->arguments_valid;
    return 0;
}

static void on_done(void *user_data, const ylokh_result *result) {
    struct step *step = user_data;
    step->status = result->status;
    step->message_json = copy(result->message_json);
    step->error = copy(result->message);
}

/* The number after "key": in a flat JSON object (enough for calc's arguments). */
static bool number_arg(const char *json, const char *key, double *out) {
    char pattern[32];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *p = strstr(json, pattern);
    if (!p) return false;
    p = strchr(p + strlen(pattern), ':');
    if (!p) return false;
    char *end;
    *out = strtod(p + 1, &end);
    return end != p + 1;
}

static bool op_arg(const char *json, char *op) {
    const char *p = strstr(json, "\"op\"");
    if (!p || !(p = strchr(p + 4, ':'))) return false;
    while (*++p == ' ') {}
    if (*p != '"' || !strchr("+-*/", p[1]) || p[2] != '"') return false;
    *op = p[1];
    return true;
}

/* Runs one tool; the result text goes back to the model. */
static void run_tool(const struct call *c, char *out, size_t size) {
    if (strcmp(c->name, "get_time") == 0) {
        time_t now = time(NULL);
        strftime(out, size, "%Y-%m-%d %H:%M:%S", localtime(&now));
    } else if (strcmp(c->name, "calc") == 0) {
        double a, b;
        char op;
        if (!c->valid || !number_arg(c->arguments, "a", &a) || !number_arg(c->arguments, "b", &b) ||
            !op_arg(c->arguments, &op)) {
            snprintf(out, size, "error: calc needs {\"a\": number, \"op\": \"+|-|*|/\", \"b\": number}");
            return;
        }
        double r = op == '+' ? a + b : op == '-' ? a - b : op == '*' ? a * b : b != 0 ? a / b : 0;
        if (op == '/' && b == 0)
            snprintf(out, size, "error: division by zero");
        else
            snprintf(out, size, "%g", r);
    } else {
        snprintf(out, size, "error: no tool named %s", c->name);
    }
}

static void step_free(struct step *s) {
    for (size_t i = 0; i < s->n_calls; i++) {
        free(s->calls[i].id);
        free(s->calls[i].name);
        free(s->calls[i].arguments);
    }
    free(s->message_json);
    free(s->error);
    memset(s, 0, sizeof *s);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s \"question\"\n", argv[0]);
        return 2;
    }
    const char *url = getenv("YLOKH_BASE_URL");
    const char *steps_env = getenv("YLOKH_MAX_STEPS");
    int max_steps = steps_env ? atoi(steps_env) : 4;
    ylokh_options *opts = ylokh_options_new_compatible(url ? url : "http://127.0.0.1:8080/v1");
    if (!opts) {
        fprintf(stderr, "error: %s\n", ylokh_last_error());
        return 2;
    }
    const char *key = getenv("YLOKH_API_KEY"), *model = getenv("YLOKH_MODEL"), *api = getenv("YLOKH_API");
    uint32_t which = !api || !*api || !strcmp(api, "chat") ? YLOKH_API_CHAT_COMPLETIONS
                     : !strcmp(api, "responses")           ? YLOKH_API_RESPONSES
                     : !strcmp(api, "messages")            ? YLOKH_API_MESSAGES
                                                           : 0;
    if (ylokh_options_set_api(opts, which) != YLOKH_OK || (key && ylokh_options_set_api_key(opts, key) != YLOKH_OK) ||
        (model && ylokh_options_set_default_model(opts, model) != YLOKH_OK)) {
        fprintf(stderr, "error: %s\n", ylokh_last_error());
        ylokh_options_free(opts);
        return 2;
    }
    ylokh_client *client = NULL;
    ylokh_status s = ylokh_client_new(opts, &client);
    ylokh_options_free(opts);
    if (s != YLOKH_OK) {
        fprintf(stderr, "error: %s\n", ylokh_last_error());
        return 2;
    }

    ylokh_conversation *conv = ylokh_conversation_new();
    ylokh_conversation_add(conv, "system", "You are a helpful assistant. Use the tools when they help.");
    ylokh_conversation_add(conv, "user", argv[1]);

    int rc = 1;
    for (int n = 1; n <= max_steps; n++) {
        struct step step = {0};
        ylokh_chat_request req = {0};
        req.struct_size = sizeof req;
        req.conversation = conv;
        req.tools_json = TOOLS;
        req.params_json = getenv("YLOKH_PARAMS");
        req.stream = true;
        req.user_data = &step;
        req.on_token = on_token;
        req.on_tool_call = on_tool_call;
        req.on_done = on_done;
        printf("--- step %d\n", n);
        fflush(stdout);
        ylokh_request *handle = NULL;
        s = ylokh_chat_send(client, &req, &handle);
        if (s != YLOKH_OK) {
            fprintf(stderr, "error: %s: %s\n", ylokh_status_str(s), ylokh_last_error());
            break;
        }
        ylokh_request_wait(handle, UINT64_MAX); /* returns after on_done returned */
        ylokh_request_free(handle);
        if (step.status != YLOKH_OK) {
            fprintf(stderr, "\nerror: %s: %s\n", ylokh_status_str(step.status), step.error ? step.error : "");
            step_free(&step);
            break;
        }
        printf("\n");
        ylokh_conversation_add_json(conv, step.message_json); /* the assistant's turn, calls included */
        if (step.n_calls == 0) {                               /* no tool call: that was the answer */
            printf("--- final answer after %d step%s\n", n, n == 1 ? "" : "s");
            rc = 0;
            step_free(&step);
            break;
        }
        for (size_t i = 0; i < step.n_calls; i++) {
            char result[128];
            run_tool(&step.calls[i], result, sizeof result);
            printf("[tool call %s] %s(%s)\n[tool result %s] %s\n", step.calls[i].id, step.calls[i].name,
                   step.calls[i].arguments, step.calls[i].id, result);
            ylokh_conversation_add_tool_result(conv, step.calls[i].id, result);
        }
        step_free(&step);
        if (n == max_steps) fprintf(stderr, "error: no final answer within %d steps\n", max_steps);
    }
    ylokh_conversation_free(conv);
    ylokh_client_free(client);
    return rc;
}
