/* A client used in a fork()ed child: the child has none of the client's threads, so every
 * call that would start a request must fail at once (not hang) with a message that says to
 * make a new client, freeing it must return, and a new client in the child must work. The
 * parent's client keeps working. Usage: fork_test http://127.0.0.1:PORT/v1 */
#include "ylokh.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const ylokh_message HI[] = {{"user", "hi"}};

/* Runs one blocking request; 0 when it answered. */
static int ask(ylokh_client *c, const char *who) {
    char *text = NULL;
    ylokh_status s = ylokh_chat_complete(c, NULL, HI, 1, NULL, &text, NULL);
    if (s != YLOKH_OK) {
        printf("%s: %s: %s\n", who, ylokh_status_str(s), ylokh_last_error());
        return 1;
    }
    ylokh_string_free(text);
    return 0;
}

static int child(ylokh_client *inherited, const char *url) {
    /* A hang is a failure: SIGALRM ends the child with a signal. */
    alarm(5);
    ylokh_request *req = NULL;
    ylokh_status s = ylokh_chat_start(inherited, NULL, HI, 1, NULL, true, NULL, &req);
    if (s == YLOKH_OK) {
        printf("child: ylokh_chat_start on the parent's client returned YLOKH_OK\n");
        return 1;
    }
    const char *why = ylokh_last_error();
    if (!why || !strstr(why, "fork") || !strstr(why, "ylokh_client_new")) {
        printf("child: the message does not say to make a new client: %s\n", why ? why : "(null)");
        return 1;
    }
    printf("child: %s: %s\n", ylokh_status_str(s), why);
    char *text = NULL;
    s = ylokh_chat_complete(inherited, NULL, HI, 1, NULL, &text, NULL);
    if (s == YLOKH_OK || !strstr(ylokh_last_error(), "fork")) {
        printf("child: ylokh_chat_complete on the parent's client: %s\n", ylokh_status_str(s));
        return 1;
    }
    ylokh_client_free(inherited); /* must return */
    ylokh_options *o = ylokh_options_new_compatible(url);
    ylokh_client *fresh = NULL;
    if (ylokh_client_new(o, &fresh) != YLOKH_OK) return 1;
    ylokh_options_free(o);
    int failed = ask(fresh, "child's new client");
    ylokh_client_free(fresh);
    return failed;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    ylokh_options *o = ylokh_options_new_compatible(argv[1]);
    ylokh_options_set_max_retries(o, 0);
    ylokh_client *c = NULL;
    if (ylokh_client_new(o, &c) != YLOKH_OK) return 1;
    ylokh_options_free(o);
    if (ask(c, "parent before fork")) return 1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        int failed = child(c, argv[1]);
        fflush(stdout);
        _exit(failed);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("fork: the child failed (%s %d)\n", WIFSIGNALED(status) ? "signal" : "exit",
               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        return 1;
    }
    if (ask(c, "parent after fork")) return 1;
    ylokh_client_free(c);
    printf("fork: ok\n");
    return 0;
}
