/* A log callback that calls into the library (which logs again) while another thread waits in
 * ylokh_set_log_callback must not deadlock. Exits 0 and prints "ok" when both threads finish;
 * tests/c_api.rs runs it under a time limit. Usage: log_reentry */
#include "ylokh.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static atomic_int entered = 0;
static atomic_int nested_done = 0;
static atomic_int setter_done = 0;
static ylokh_client *inner_client = NULL;

static void nap_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static void on_log(void *user_data, uint32_t level, const char *message, size_t len) {
    (void)user_data;
    (void)level;
    (void)message;
    (void)len;
    if (atomic_fetch_add(&entered, 1) == 0) {
        /* Give the other thread time to block in ylokh_set_log_callback, then call something
         * that logs: "client free: cancelling 0 running requests". */
        nap_ms(200);
        ylokh_client_free(inner_client);
        atomic_store(&nested_done, 1);
    }
}

static void *set_callback_again(void *arg) {
    (void)arg;
    while (!atomic_load(&entered)) nap_ms(1);
    uint32_t status = ylokh_set_log_callback(YLOKH_LOG_DEBUG, on_log, NULL);
    if (status != YLOKH_OK) fprintf(stderr, "ylokh_set_log_callback: %s\n", ylokh_status_str(status));
    atomic_store(&setter_done, 1);
    return NULL;
}

int main(void) {
    ylokh_options *opts = ylokh_options_new_compatible("http://127.0.0.1:9/v1");
    ylokh_client *outer_client = NULL;
    if (!opts || ylokh_client_new(opts, &outer_client) != YLOKH_OK ||
        ylokh_client_new(opts, &inner_client) != YLOKH_OK) {
        fprintf(stderr, "setup failed: %s\n", ylokh_last_error());
        return 1;
    }
    ylokh_options_free(opts);
    if (ylokh_set_log_callback(YLOKH_LOG_DEBUG, on_log, NULL) != YLOKH_OK) return 1;
    pthread_t setter;
    pthread_create(&setter, NULL, set_callback_again, NULL);
    ylokh_client_free(outer_client); /* logs, so on_log runs on this thread */
    pthread_join(setter, NULL);
    ylokh_set_log_callback(0, NULL, NULL);
    int ok = atomic_load(&nested_done) && atomic_load(&setter_done);
    printf("%s\n", ok ? "ok" : "FAIL");
    return ok ? 0 : 1;
}
