/* Helpers the C tests share. Include after the feature-test macros and "ylokh.h". */
#ifndef YLOKH_TEST_COMMON_H
#define YLOKH_TEST_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* CHECK(cond, fmt, ...): counts a check; on failure prints where and why and counts it. A test
 * defines `static int failures, checks;` (YLOKH_TEST_COUNTERS does) and reports them at the end. */
#define YLOKH_TEST_COUNTERS static int failures, checks
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

/* AWAIT(cond): waits until `cond` holds, reading it every 5 ms for up to 60 s, for what another
 * thread does "soon": a sleep of a fixed length is too short on a loaded machine or under
 * valgrind. The CHECK after it says whether it came. */
#define AWAIT(cond)                                                            \
    do {                                                                       \
        for (int await_i_ = 0; await_i_ < 12000 && !(cond); await_i_++)        \
            usleep(5 * 1000);                                                  \
    } while (0)

/* The resident set size of this process in KiB (0 when /proc is not there). */
static inline long rss_kib(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A numeric field of /proc/self/status ("Threads", "VmHWM" in KiB, ...); -1 when not there. */
static inline long proc_status_field(const char *name) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long value = -1;
    size_t n = strlen(name);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':') value = atol(line + n + 1);
    if (f) fclose(f);
    return value;
}

/* "SERVER/SCENARIO/v1": the base URL of one scenario of the loopback test server, in a buffer
 * of this thread's own, valid until the thread's next call. */
static inline const char *scenario_url(const char *server, const char *scenario) {
    static __thread char buf[256];
    snprintf(buf, sizeof buf, "%s/%s/v1", server, scenario);
    return buf;
}

/* A client for `url`, its options first given to `tweak` (when not NULL); exits with status 2,
 * saying why, when either cannot be made (the test cannot go on). */
static inline ylokh_client *client_or_exit(const char *url, void (*tweak)(ylokh_options *)) {
    ylokh_options *o = ylokh_options_new_compatible(url);
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

#endif
