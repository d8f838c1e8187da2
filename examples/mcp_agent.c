/* An agent in thirty lines of C: the tools of an MCP server (mcp-server-time by default), a
 * model, and the agent runner doing the loop. Asks what time it is in Tokyo, prints each tool
 * call as [NAME ARGUMENTS] and the answer as it streams. Exit status: 0 with an answer, 1 on a
 * failure (the message on stderr).
 *
 *   pip install mcp-server-time          (or: uvx mcp-server-time)
 *   cc -Iinclude examples/mcp_agent.c -Ltarget/release -lylokh -o mcp_agent
 *   YLOKH_BASE_URL=$(examples/local-llm.sh start) ./mcp_agent [MCP SERVER COMMAND...]
 *
 * Environment: YLOKH_BASE_URL (default http://127.0.0.1:8080/v1), YLOKH_MODEL,
 * YLOKH_TIMEOUT_MS (each model turn's time limit; default 120000, 0: none), YLOKH_PARAMS (a
 * JSON object merged into every request, e.g. {"temperature":0}), YLOKH_FIRST_PARAMS and
 * YLOKH_FIRST_PREFILL (the first turn's extra params and prefill: a small model such as
 * SmolLM2-135M with a Hermes tool-use template calls a tool only with
 * {"tool_choice":"required"} and the prefill "<tool_call>\n"; see README "Agent runner"). */
#include "ylokh.h"

#include <stdio.h>
#include <stdlib.h>

static int print_token(void *user_data, const char *text, size_t len) {
    (void)user_data;
    fwrite(text, 1, len, stdout);
    return fflush(stdout);
}

static int print_call(void *user_data, const ylokh_tool_call *call) {
    (void)user_data;
    printf("[%s %.*s]\n", call->name, (int)call->arguments_len, call->arguments);
    return 0;
}

static void done(void *user_data, const ylokh_result *result) {
    *(ylokh_status *)user_data = result->status;
    if (result->status != YLOKH_OK) fprintf(stderr, "\nfailed: %s\n", result->message);
}

int main(int argc, char **argv) {
    const char *url = getenv("YLOKH_BASE_URL");
    ylokh_options *opts = ylokh_options_new_compatible(url ? url : "http://127.0.0.1:8080/v1");
    if (getenv("YLOKH_MODEL")) ylokh_options_set_default_model(opts, getenv("YLOKH_MODEL"));
    if (getenv("YLOKH_TIMEOUT_MS")) ylokh_options_set_timeout_ms(opts, strtoull(getenv("YLOKH_TIMEOUT_MS"), NULL, 10));
    ylokh_client *client = NULL;
    ylokh_status st = ylokh_client_new(opts, &client);
    ylokh_options_free(opts);
    if (st != YLOKH_OK) return fprintf(stderr, "client: %s\n", ylokh_last_error()), 1;

    const char *time_server[] = {"mcp-server-time"};
    ylokh_mcp_server server = {.struct_size = sizeof server};
    server.argv = argc > 1 ? (const char *const *)argv + 1 : time_server;
    server.argc = argc > 1 ? (size_t)argc - 1 : 1;
    ylokh_mcp_session *time = NULL;
    if (ylokh_mcp_connect(client, &server, &time) != YLOKH_OK)
        return fprintf(stderr, "MCP server: %s\n", ylokh_last_error()), ylokh_client_free(client), 1;

    ylokh_conversation *conv = ylokh_conversation_new();
    ylokh_conversation_add(conv, "user", "What time is it in Tokyo (Asia/Tokyo) right now?");
    ylokh_agent_request req = {.struct_size = sizeof req, .conversation = conv, .stream = true};
    req.params_json = getenv("YLOKH_PARAMS");
    req.first_params_json = getenv("YLOKH_FIRST_PARAMS");
    req.first_prefill = getenv("YLOKH_FIRST_PREFILL");
    req.sessions = &time;
    req.n_sessions = 1;
    req.user_data = &st;
    req.on_token = print_token;
    req.on_tool_call = print_call;
    req.on_done = done;
    ylokh_agent *run = NULL;
    if (ylokh_agent_run(client, &req, &run) == YLOKH_OK) ylokh_agent_wait(run, UINT64_MAX);
    else st = YLOKH_INVALID_ARGUMENT, fprintf(stderr, "run: %s\n", ylokh_last_error());
    printf("\n");
    ylokh_agent_free(run);
    ylokh_conversation_free(conv);
    ylokh_mcp_session_free(time);
    ylokh_client_free(client);
    return st == YLOKH_OK ? 0 : 1;
}
