/* MCP sessions and the agent runner as a C user sees them (tests/mcp.rs runs it).
 * Usage:
 *   mcp_test fake FAKE_SERVER              sessions against tests/mcp/fake_server.c
 *   mcp_test many FAKE_SERVER              100 sessions opened and freed, processes back to baseline
 *   mcp_test orphan FAKE_SERVER PID_FILE   opens a session and exits without freeing it
 *   mcp_test agent LLM_URL FAKE_SERVER     the runner against the loopback LLM server
 *   mcp_test stdio TOOL ARGS EXPECT -- ARGV...   a real server over stdio: list, call TOOL with
 *                                                ARGS, the text must contain EXPECT
 *   mcp_test http URL TOOL ARGS EXPECT     the same over Streamable HTTP
 * Prints "mcp: N checks, F failed" and exits non-zero on a failure. */
#define _GNU_SOURCE
#include "ylokh.h"
#include "common.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

YLOKH_TEST_COUNTERS;

static const char *err(void) {
    const char *e = ylokh_last_error();
    return e ? e : "(none)";
}

static void on_log(void *user_data, uint32_t level, const char *text, size_t len) {
    (void)user_data;
    (void)level;
    (void)len;
    fprintf(stderr, "log: %s\n", text);
}

static ylokh_client *new_client(const char *url) {
    ylokh_options *o = ylokh_options_new_compatible(url);
    ylokh_options_set_default_model(o, "test-model");
    ylokh_client *c = NULL;
    ylokh_status st = ylokh_client_new(o, &c);
    CHECK(st == YLOKH_OK, "client: %s", err());
    ylokh_options_free(o);
    return c;
}

static ylokh_mcp_session *connect_fake(ylokh_client *c, const char *fake, const char *const *env, size_t n_env) {
    const char *argv[] = {fake};
    ylokh_mcp_server server = {0};
    server.struct_size = sizeof server;
    server.argv = argv;
    server.argc = 1;
    server.env = env;
    server.n_env = n_env;
    server.connect_timeout_ms = 10000;
    ylokh_mcp_session *s = NULL;
    ylokh_status st = ylokh_mcp_connect(c, &server, &s);
    CHECK(st == YLOKH_OK && s, "connect: %s: %s", ylokh_status_str(st), err());
    return s;
}

/* Calls TOOL and returns the status; the result (or NULL) in *out. */
static ylokh_status call(ylokh_mcp_session *s, const char *tool, const char *args, uint64_t ms, ylokh_tool_result **out) {
    *out = NULL;
    return ylokh_mcp_session_call(s, tool, args, ms, out);
}

static void test_fake(const char *fake) {
    ylokh_client *c = new_client("http://127.0.0.1:9/v1");
    const char *env[] = {"FAKE_MCP_GREETING=hello "};
    ylokh_mcp_session *s = connect_fake(c, fake, env, 1);
    if (!s) return;

    const char *tools = NULL;
    CHECK(ylokh_mcp_session_tools(s, NULL, 5000, &tools) == YLOKH_OK, "tools: %s", err());
    CHECK(tools && strstr(tools, "{\"type\":\"function\",\"function\":{\"name\":\"echo\",\"description\":\"Echoes its text\",\"parameters\":{\"type\":\"object\""),
          "tools: %s (%s)", tools ? tools : "NULL", err());
    const char *prefixed = NULL;
    CHECK(ylokh_mcp_session_tools(s, "fake", 5000, &prefixed) == YLOKH_OK, "prefixed: %s", err());
    CHECK(prefixed && strstr(prefixed, "\"name\":\"fake_echo\""), "prefixed: %s", prefixed ? prefixed : "NULL");
    CHECK(!ylokh_mcp_session_tools_changed(s), "a first listing is no change");

    ylokh_tool_result *r;
    ylokh_status st = call(s, "echo", "{\"text\":\"world\"}", 5000, &r);
    CHECK(st == YLOKH_OK && r && strcmp(r->text, "hello world") == 0 && !r->is_error && r->text_len == 11,
          "echo (the environment reached the server): %s %s", ylokh_status_str(st), r ? r->text : err());
    ylokh_tool_result_free(r);

    st = call(s, "fail", NULL, 5000, &r);
    CHECK(st == YLOKH_OK && r && r->is_error && strcmp(r->text, "it broke") == 0, "fail: %s", r ? r->text : err());
    ylokh_tool_result_free(r);

    st = call(s, "image", "{}", 5000, &r);
    CHECK(st == YLOKH_OK && r && strcmp(r->text, "a red dot\ndot") == 0, "image text: %s", r ? r->text : err());
    CHECK(r && strstr(r->content_json, "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}}")
            && strstr(r->content_json, "\"uri\":\"file:///dot.txt\""),
          "image parts: %s", r ? r->content_json : "NULL");
    ylokh_tool_result_free(r);

    st = call(s, "nope", "{}", 5000, &r);
    CHECK(st == YLOKH_SERVER_ERROR && !r && strstr(err(), "Unknown tool"), "unknown tool: %s %s", ylokh_status_str(st), err());

    st = call(s, "echo", "[1]", 5000, &r);
    CHECK(st == YLOKH_INVALID_ARGUMENT && strstr(err(), "JSON object"), "array arguments: %s", err());

    st = call(s, "garbage", "{}", 5000, &r);
    CHECK(st == YLOKH_OK && r && strcmp(r->text, "ok") == 0, "garbage line skipped: %s %s", ylokh_status_str(st), err());
    ylokh_tool_result_free(r);

    st = call(s, "slow", "{}", 300, &r);
    CHECK(st == YLOKH_TIMEOUT && strstr(err(), "did not answer within 300 ms"), "slow: %s %s", ylokh_status_str(st), err());
    st = call(s, "echo", "{\"text\":\"again\"}", 5000, &r);
    CHECK(st == YLOKH_OK && r && strcmp(r->text, "hello again") == 0, "usable after a timeout: %s", err());
    ylokh_tool_result_free(r);

    /* The rug pull: the server changes its tools under the session. */
    st = call(s, "change", "{}", 5000, &r);
    CHECK(st == YLOKH_OK, "change: %s", err());
    ylokh_tool_result_free(r);
    AWAIT(ylokh_mcp_session_tools_changed(s));
    CHECK(ylokh_mcp_session_tools_changed(s), "the list_changed notification is noticed");
    st = call(s, "echo", "{\"text\":\"x\"}", 5000, &r);
    CHECK(st == YLOKH_PROTOCOL && strstr(err(), "tool list changed"), "calls refused after a change: %s %s", ylokh_status_str(st), err());
    tools = NULL;
    CHECK(ylokh_mcp_session_tools(s, NULL, 5000, &tools) == YLOKH_OK, "re-list: %s", err());
    CHECK(tools && strstr(tools, "\"extra\"") && strstr(tools, "sends your files away"), "the new list can be looked at: %s", tools ? tools : err());
    CHECK(ylokh_mcp_session_tools_changed(s), "looking does not accept");
    CHECK(ylokh_mcp_session_accept_tools(s, 5000) == YLOKH_OK, "accept: %s", err());
    CHECK(!ylokh_mcp_session_tools_changed(s), "accepted");
    st = call(s, "echo", "{\"text\":\"y\"}", 5000, &r);
    CHECK(st == YLOKH_OK && r && strcmp(r->text, "hello y") == 0, "calls after accepting: %s", err());
    ylokh_tool_result_free(r);

    /* A server that stops answering: the call times out, free kills it. */
    st = call(s, "hang", "{}", 300, &r);
    CHECK(st == YLOKH_TIMEOUT, "hang: %s %s", ylokh_status_str(st), err());
    ylokh_mcp_session_free(s);

    /* A server that exits mid-call; then a clear error on the next call. */
    s = connect_fake(c, fake, env, 1);
    if (!s) return;
    st = call(s, "crash", "{}", 5000, &r);
    CHECK(st == YLOKH_CONNECT && strstr(err(), "gone"), "crash: %s %s", ylokh_status_str(st), err());
    st = call(s, "echo", "{\"text\":\"z\"}", 5000, &r);
    CHECK(st == YLOKH_CONNECT && strstr(err(), "open a new session"), "after the crash: %s %s", ylokh_status_str(st), err());
    ylokh_mcp_session_free(s);

    /* Bad arguments. */
    ylokh_mcp_server bad = {0};
    bad.struct_size = sizeof bad;
    ylokh_mcp_session *none = NULL;
    st = ylokh_mcp_connect(c, &bad, &none);
    CHECK(st == YLOKH_INVALID_ARGUMENT && !none && strstr(err(), "exactly one"), "neither argv nor url: %s", err());
    const char *missing[] = {"/nonexistent/mcp-server"};
    bad.argv = missing;
    bad.argc = 1;
    st = ylokh_mcp_connect(c, &bad, &none);
    CHECK(st == YLOKH_CONNECT && !none && strstr(err(), "could not start"), "a missing program: %s %s", ylokh_status_str(st), err());
    const char *hdr[] = {"Authorization: Bearer sk-secret-token-123"};
    ylokh_mcp_server http = {0};
    http.struct_size = sizeof http;
    http.url = "http://user:pw@127.0.0.1:9/mcp?key=abc";
    http.headers = hdr;
    http.n_headers = 1;
    http.connect_timeout_ms = 5000;
    st = ylokh_mcp_connect(c, &http, &none);
    CHECK(st == YLOKH_CONNECT && !strstr(err(), "sk-secret") && !strstr(err(), "pw@") && !strstr(err(), "key=abc"),
          "a refused HTTP connect says no secret: %s %s", ylokh_status_str(st), err());
    ylokh_client_free(c);
}

static int child_count(void) {
    int n = 0;
    char want[32];
    snprintf(want, sizeof want, "%d", (int)getpid());
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(buf, sizeof buf, f)) {
            char *p = strrchr(buf, ')'); /* pid (comm) state ppid */
            char state;
            int ppid;
            if (p && sscanf(p + 1, " %c %d", &state, &ppid) == 2 && ppid == getpid()) n++;
        }
        fclose(f);
    }
    if (d) closedir(d);
    return n;
}

static void test_many(const char *fake) {
    ylokh_client *c = new_client("http://127.0.0.1:9/v1");
    int baseline = child_count();
    for (int i = 0; i < 100; i++) {
        ylokh_mcp_session *s = connect_fake(c, fake, NULL, 0);
        if (!s) break;
        if (i % 10 == 0) {
            ylokh_tool_result *r;
            CHECK(call(s, "echo", "{\"text\":\"n\"}", 5000, &r) == YLOKH_OK, "call %d: %s", i, err());
            ylokh_tool_result_free(r);
        }
        if (i == 50) {
            /* One freed while a call hangs in another thread is not needed here: a hung server. */
            ylokh_tool_result *r;
            CHECK(call(s, "hang", "{}", 50, &r) == YLOKH_TIMEOUT, "hang: %s", err());
        }
        ylokh_mcp_session_free(s);
    }
    int after = child_count();
    /* A server on its way out (slower on a loaded machine) is still counted for a moment. */
    for (int i = 0; i < 1500 && after != baseline; i++) {
        usleep(20 * 1000);
        after = child_count();
    }
    CHECK(after == baseline, "child processes: %d before, %d after 100 sessions", baseline, after);
    ylokh_client_free(c);
    printf("processes: baseline %d, after %d\n", baseline, after);
}

static int test_orphan(const char *fake, const char *pid_file) {
    ylokh_client *c = new_client("http://127.0.0.1:9/v1");
    char env_pid[512];
    snprintf(env_pid, sizeof env_pid, "FAKE_MCP_PID_FILE=%s", pid_file);
    const char *env[] = {env_pid, "FAKE_MCP_IGNORE_EOF=1"};
    ylokh_mcp_session *s = connect_fake(c, fake, env, 2);
    printf("connected: %s\n", s ? "yes" : "no");
    fflush(stdout);
    /* Exits without freeing the session or the client. */
    _exit(s ? 0 : 1);
}

/* The agent runner. */
typedef struct agent_rec {
    int done, steps, tools, tokens, chunks;
    ylokh_status status;
    char answer[4096];
    char message[1024];
    int abort_tool;
} agent_rec;

static int a_token(void *u, const char *text, size_t len) {
    agent_rec *r = u;
    r->tokens++;
    (void)text;
    (void)len;
    return 0;
}

static int a_chunk(void *u, const char *json, size_t len) {
    agent_rec *r = u;
    if (len > 0 && json[0] == '{' && json[len] == 0) r->chunks++;
    return 0;
}

static int a_tool(void *u, const ylokh_tool_call *call, ylokh_tool_reply *reply) {
    agent_rec *r = u;
    r->tools++;
    if (r->abort_tool) return 7;
    if (strcmp(call->name, "calc") == 0) return ylokh_tool_reply_set(reply, "391", false) == YLOKH_OK ? 0 : 1;
    return ylokh_tool_reply_set(reply, "unknown tool", true) == YLOKH_OK ? 0 : 1;
}

static int a_step(void *u, uint32_t step, const ylokh_result *result) {
    agent_rec *r = u;
    r->steps = (int)step;
    (void)result;
    return 0;
}

static void a_done(void *u, const ylokh_result *result) {
    agent_rec *r = u;
    r->done++;
    r->status = result->status;
    if (result->message_json) snprintf(r->answer, sizeof r->answer, "%s", result->message_json);
    if (result->message) snprintf(r->message, sizeof r->message, "%s", result->message);
}

static ylokh_status run_agent(ylokh_client *c, ylokh_conversation *conv, const char *tools_json,
                              ylokh_mcp_session **sessions, size_t n, agent_rec *rec, uint32_t max_steps) {
    ylokh_agent_request req = {0};
    req.struct_size = sizeof req;
    req.conversation = conv;
    req.tools_json = tools_json;
    req.stream = true;
    req.sessions = sessions;
    req.n_sessions = n;
    req.max_steps = max_steps;
    req.tool_timeout_ms = 5000;
    req.user_data = rec;
    req.on_token = a_token;
    req.on_chunk = a_chunk;
    req.on_tool = a_tool;
    req.on_step = a_step;
    req.on_done = a_done;
    ylokh_agent *a = NULL;
    ylokh_status st = ylokh_agent_run(c, &req, &a);
    CHECK(st == YLOKH_OK && a, "agent run: %s", err());
    if (st != YLOKH_OK) return st;
    st = ylokh_agent_wait(a, UINT64_MAX);
    ylokh_agent_free(a);
    CHECK(rec->done == 1, "on_done ran %d times", rec->done);
    return st;
}

static const char *CALC = "[{\"type\":\"function\",\"function\":{\"name\":\"calc\",\"parameters\":{\"type\":\"object\"}}}]";

static void test_agent(const char *llm, const char *fake) {
    char url[512];
    /* The caller's own tool, through on_tool. */
    snprintf(url, sizeof url, "%s/toolloop/v1", llm);
    ylokh_client *c = new_client(url);
    ylokh_conversation *conv = ylokh_conversation_new();
    ylokh_conversation_add(conv, "user", "What is 17 * 23?");
    agent_rec rec = {0};
    ylokh_status st = run_agent(c, conv, CALC, NULL, 0, &rec, 0);
    CHECK(st == YLOKH_OK && rec.status == YLOKH_OK, "toolloop: %s %s", ylokh_status_str(st), rec.message);
    CHECK(strstr(rec.answer, "17 times 23 is 391."), "answer: %s", rec.answer);
    CHECK(rec.tools == 1 && rec.steps == 1 && rec.tokens > 0, "tools %d steps %d tokens %d", rec.tools, rec.steps, rec.tokens);
    /* Every event's JSON of both turns reaches on_chunk: at least one per token. */
    CHECK(rec.chunks > rec.tokens, "on_chunk ran %d times for %d tokens", rec.chunks, rec.tokens);
    const char *history = ylokh_conversation_json(conv);
    CHECK(ylokh_conversation_len(conv) == 3 && strstr(history, "\"tool_call_id\":\"call_calc_1\",\"content\":\"391\""),
          "the assistant turn and the result were appended: %s", history);
    ylokh_conversation_free(conv);

    /* A tool callback that returns non-zero stops the run: YLOKH_ABORTED. */
    conv = ylokh_conversation_new();
    ylokh_conversation_add(conv, "user", "What is 17 * 23?");
    agent_rec rec2 = {0};
    rec2.abort_tool = 1;
    st = run_agent(c, conv, CALC, NULL, 0, &rec2, 0);
    CHECK(st == YLOKH_ABORTED && rec2.status == YLOKH_ABORTED && strstr(rec2.message, "on_tool returned 7"),
          "abort: %s %s", ylokh_status_str(st), rec2.message);
    ylokh_conversation_free(conv);

    /* max_steps 1: the call is run, then the run ends YLOKH_INCOMPLETE. */
    conv = ylokh_conversation_new();
    ylokh_conversation_add(conv, "user", "What is 17 * 23?");
    agent_rec rec3 = {0};
    st = run_agent(c, conv, CALC, NULL, 0, &rec3, 1);
    CHECK(st == YLOKH_INCOMPLETE && strstr(rec3.message, "max_steps (1)") && ylokh_conversation_len(conv) == 3,
          "max_steps: %s %s", ylokh_status_str(st), rec3.message);
    ylokh_conversation_free(conv);
    ylokh_client_free(c);

    /* Cancel from another thread (here: the starting one) while a model turn hangs. */
    snprintf(url, sizeof url, "%s/silent/v1", llm);
    ylokh_client *c3 = new_client(url);
    conv = ylokh_conversation_new();
    ylokh_conversation_add(conv, "user", "Hello?");
    agent_rec rec6 = {0};
    ylokh_agent_request req = {0};
    req.struct_size = sizeof req;
    req.conversation = conv;
    req.stream = true;
    req.user_data = &rec6;
    req.on_done = a_done;
    ylokh_agent *a = NULL;
    CHECK(ylokh_agent_run(c3, &req, &a) == YLOKH_OK, "run: %s", err());
    CHECK(ylokh_agent_wait(a, 200) == YLOKH_PENDING, "still running");
    CHECK(ylokh_agent_cancel(a) == YLOKH_OK, "cancel");
    st = ylokh_agent_wait(a, 5000);
    CHECK(st == YLOKH_CANCELLED && rec6.done == 1 && rec6.status == YLOKH_CANCELLED, "cancelled: %s %d", ylokh_status_str(st), rec6.done);
    ylokh_agent_free(a);
    ylokh_conversation_free(conv);
    ylokh_client_free(c3);

    /* An MCP tool through the runner: the loopback model calls `echo`, then quotes the result. */
    snprintf(url, sizeof url, "%s/mcploop/v1", llm);
    c = new_client(url);
    const char *env[] = {"FAKE_MCP_GREETING=mcp says "};
    ylokh_mcp_session *s = connect_fake(c, fake, env, 1);
    conv = ylokh_conversation_new();
    ylokh_conversation_add(conv, "user", "Echo hi");
    agent_rec rec4 = {0};
    st = run_agent(c, conv, CALC, &s, 1, &rec4, 0);
    CHECK(st == YLOKH_OK && strstr(rec4.answer, "The tool said: mcp says hi"), "mcploop: %s %s %s", ylokh_status_str(st), rec4.message, rec4.answer);
    CHECK(rec4.tools == 0, "the MCP call did not go to on_tool");
    ylokh_conversation_free(conv);

    /* A tool that fails at the server (crash) is an error result the model sees, not a failed run. */
    snprintf(url, sizeof url, "%s/mcpcrash/v1", llm);
    ylokh_client *c2 = new_client(url);
    conv = ylokh_conversation_new();
    ylokh_conversation_add(conv, "user", "Crash");
    agent_rec rec5 = {0};
    st = run_agent(c2, conv, NULL, &s, 1, &rec5, 0);
    CHECK(st == YLOKH_OK && strstr(rec5.answer, "The tool said: Error: MCP server fake"), "crash in a run: %s %s %s", ylokh_status_str(st), rec5.message, rec5.answer);
    ylokh_conversation_free(conv);
    ylokh_mcp_session_free(s);
    ylokh_client_free(c2);
    ylokh_client_free(c);
}

/* The runner in the Responses and Messages dialects: the recorded answers call get_weather;
 * with max_steps 1 the calls are run through on_tool, appended, and the run ends INCOMPLETE. */
static void test_dialects(const char *llm) {
    const char *scenarios[] = {"replay3-dialects.responses-llamacpp-tool", "replay3-dialects.messages-tools"};
    uint32_t apis[] = {YLOKH_API_RESPONSES, YLOKH_API_MESSAGES};
    for (int i = 0; i < 2; i++) {
        char url[512];
        snprintf(url, sizeof url, "%s/%s/v1", llm, scenarios[i]);
        ylokh_options *o = ylokh_options_new_compatible(url);
        ylokh_options_set_default_model(o, "test-model");
        ylokh_options_set_api(o, apis[i]);
        ylokh_options_set_max_retries(o, 0);
        ylokh_client *c = NULL;
        CHECK(ylokh_client_new(o, &c) == YLOKH_OK, "client: %s", err());
        ylokh_options_free(o);
        ylokh_conversation *conv = ylokh_conversation_new();
        ylokh_conversation_add(conv, "user", "Weather?");
        agent_rec rec = {0};
        const char *weather = "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"}}}]";
        ylokh_status st = run_agent(c, conv, weather, NULL, 0, &rec, 1);
        const char *history = ylokh_conversation_json(conv);
        CHECK(st == YLOKH_INCOMPLETE && rec.tools >= 1 && rec.steps == 1, "%s: %s tools %d steps %d: %s", scenarios[i],
              ylokh_status_str(st), rec.tools, rec.steps, rec.message);
        CHECK(strstr(history, "\"tool_calls\":[") && strstr(history, "\"role\":\"tool\"") &&
                  strstr(history, "Error: unknown tool"),
              "%s: the calls and their (error) results were appended: %s", scenarios[i], history);
        ylokh_conversation_free(conv);
        ylokh_client_free(c);
    }
}

static void test_real(const char *url, char **argv, int argc, const char *tool, const char *args, const char *expect) {
    ylokh_client *c = new_client("http://127.0.0.1:9/v1");
    ylokh_mcp_server server = {0};
    server.struct_size = sizeof server;
    server.url = url;
    server.argv = (const char *const *)argv;
    server.argc = (size_t)argc;
    server.connect_timeout_ms = 120000;
    ylokh_mcp_session *s = NULL;
    ylokh_status st = ylokh_mcp_connect(c, &server, &s);
    CHECK(st == YLOKH_OK, "connect: %s %s", ylokh_status_str(st), err());
    if (s) {
        const char *tools = NULL;
        CHECK(ylokh_mcp_session_tools(s, NULL, 30000, &tools) == YLOKH_OK, "tools: %s", err());
        char want[256];
        snprintf(want, sizeof want, "\"name\":\"%s\"", tool);
        CHECK(tools && strstr(tools, want), "tools: %s", tools ? tools : err());
        if (tools) printf("tools: %.300s...\n", tools);
        ylokh_tool_result *r = NULL;
        st = ylokh_mcp_session_call(s, tool, args, 30000, &r);
        CHECK(st == YLOKH_OK && r && !r->is_error && strstr(r->text, expect), "call %s: %s %s", tool, ylokh_status_str(st), r ? r->text : err());
        if (r) printf("%s: %s\n", tool, r->text);
        ylokh_tool_result_free(r);
        ylokh_mcp_session_free(s);
    }
    ylokh_client_free(c);
}

int main(int argc, char **argv) {
    if (getenv("MCP_TEST_LOG")) ylokh_set_log_callback(YLOKH_LOG_DEBUG, on_log, NULL);
    if (argc >= 3 && strcmp(argv[1], "fake") == 0) test_fake(argv[2]);
    else if (argc >= 3 && strcmp(argv[1], "many") == 0) test_many(argv[2]);
    else if (argc >= 4 && strcmp(argv[1], "orphan") == 0) return test_orphan(argv[2], argv[3]);
    else if (argc >= 4 && strcmp(argv[1], "agent") == 0) {
        test_agent(argv[2], argv[3]);
        test_dialects(argv[2]);
    }
    else if (argc >= 7 && strcmp(argv[1], "stdio") == 0 && strcmp(argv[5], "--") == 0)
        test_real(NULL, argv + 6, argc - 6, argv[2], argv[3], argv[4]);
    else if (argc >= 6 && strcmp(argv[1], "http") == 0) test_real(argv[2], NULL, 0, argv[3], argv[4], argv[5]);
    else {
        fprintf(stderr, "usage: see the top of tests/c/mcp_test.c\n");
        return 2;
    }
    printf("mcp: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
