/* Helpers the C tests share. Include after the feature-test macros and "ylokh.h". */
#ifndef YLOKH_TEST_COMMON_H
#define YLOKH_TEST_COMMON_H

#include <stdio.h>
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

#endif
