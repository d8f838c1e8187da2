/* Streams an answer into a GLib main loop (what GTK applications run), on the loop's own
 * thread: the request's descriptor (ylokh_request_fd) is a GLib source (g_unix_fd_add); when
 * it is readable the loop hands the tokens to a text sink (here a GString standing in for a
 * GtkTextBuffer, echoed to stdout), while the loop keeps doing its other work (a 50 ms timer,
 * standing in for a redraw). No thread of the program's own, no polling timer for the tokens.
 *
 * Usage: glib PROMPT. The answer goes to stdout as it arrives; stderr gets
 * "finish_reason: ..." and "ticks: N" (how often the timer ran meanwhile). Exit status: 0 on
 * success, 1 when the request failed, 2 on a usage error.
 * Environment: YLOKH_BASE_URL, YLOKH_API_KEY, YLOKH_MODEL, YLOKH_PARAMS, as examples/chat.c.
 *
 *   cc -Iinclude examples/glib.c $(pkg-config --cflags --libs glib-2.0) -Ltarget/release -lylokh -o glib
 */
#include "ylokh.h"

#include <glib-unix.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct app {
    GMainLoop *loop;
    ylokh_request *req;
    GString *sink; /* the "text view" */
    unsigned ticks;
    ylokh_status status;
} app;

/* The text sink: a GUI would insert into its GtkTextBuffer here. */
static void sink_append(app *a, const char *text, size_t len) {
    g_string_append_len(a->sink, text, (gssize)len);
    fwrite(text, 1, len, stdout);
    fflush(stdout);
}

static gboolean on_ready(gint fd, GIOCondition condition, gpointer user_data) {
    (void)fd;
    (void)condition;
    app *a = user_data;
    ylokh_event ev;
    while (ylokh_request_next(a->req, 0, &ev) == YLOKH_OK) {
        if (ev.kind == YLOKH_EVENT_TOKEN) {
            sink_append(a, ev.text, ev.len);
        } else if (ev.kind == YLOKH_EVENT_DONE) {
            a->status = ev.result->status;
            printf("\n");
            if (a->status == YLOKH_OK)
                fprintf(stderr, "finish_reason: %s\n", ev.result->finish_reason ? ev.result->finish_reason : "(none)");
            else
                fprintf(stderr, "error: %s: %s\n", ylokh_status_str(a->status), ev.result->message);
            g_main_loop_quit(a->loop);
            return G_SOURCE_REMOVE; /* the source goes before the request (and its descriptor) */
        }
    }
    return G_SOURCE_CONTINUE; /* YLOKH_PENDING: the descriptor is no longer readable */
}

static gboolean on_tick(gpointer user_data) {
    ((app *)user_data)->ticks++;
    return G_SOURCE_CONTINUE;
}

static int fail(const char *what, ylokh_status status) {
    fprintf(stderr, "error: %s: %s: %s\n", what, ylokh_status_str(status), ylokh_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PROMPT\n", argv[0]);
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

    app a = {.loop = g_main_loop_new(NULL, FALSE), .sink = g_string_new(NULL), .status = YLOKH_INTERNAL};
    ylokh_message messages[] = {{"user", argv[1]}};
    s = ylokh_chat_start(client, getenv("YLOKH_MODEL"), messages, 1, getenv("YLOKH_PARAMS"), true, NULL, &a.req);
    if (s != YLOKH_OK) return fail("start", s);
    int fd = ylokh_request_fd(a.req);
    if (fd < 0) return fail("descriptor", YLOKH_INVALID_ARGUMENT);
    g_unix_fd_add(fd, G_IO_IN, on_ready, &a);
    guint timer = g_timeout_add(50, on_tick, &a);
    g_main_loop_run(a.loop);

    g_source_remove(timer);
    fprintf(stderr, "ticks: %u, %zu bytes in the sink\n", a.ticks, a.sink->len);
    ylokh_request_free(a.req);
    g_string_free(a.sink, TRUE);
    g_main_loop_unref(a.loop);
    ylokh_client_free(client);
    return a.status == YLOKH_OK ? 0 : 1;
}
