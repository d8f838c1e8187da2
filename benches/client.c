/* The benchmark's C client: every figure is taken through the C ABI, as a C program sees it.
 *
 *   client throughput BASE_URL      one streamed request; tokens, bytes, wall and CPU time
 *   client ttft BASE_URL N          chat_start -> first on_token over N requests, warm client
 *   client concurrent BASE_URL N    N streams at once on one client; wall time, peak RSS
 *   client newfree N                ylokh_client_new + ylokh_client_free, N times
 *   client callbacks BASE_URL N     N streams at once, callbacks: wall, peak RSS, threads, CPU
 *   client epoll BASE_URL N         the same N streams as pull requests on one epoll thread
 *
 * Prints one line of key=value pairs; exits non-zero (with a message on stderr) on any failure.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ylokh.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
         ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void die(const char *what, ylokh_status st) {
  const char *msg = ylokh_last_error();
  fprintf(stderr, "%s: %s: %s\n", what, ylokh_status_str(st), msg ? msg : "");
  exit(1);
}

static const struct ylokh_message MESSAGES[] = {{"user", "Why is the sky blue?"}};

static struct ylokh_client *make_client(const char *base_url) {
  struct ylokh_options *opts = ylokh_options_new_compatible(base_url);
  if (!opts) die("options", YLOKH_INVALID_ARGUMENT);
  ylokh_status st;
  if ((st = ylokh_options_set_max_retries(opts, 0)) ||
      (st = ylokh_options_set_connect_timeout_ms(opts, 60000)) ||
      (st = ylokh_options_set_timeout_ms(opts, 600000)))
    die("options", st);
  struct ylokh_client *client = NULL;
  if ((st = ylokh_client_new(opts, &client))) die("ylokh_client_new", st);
  ylokh_options_free(opts);
  return client;
}

struct stream {
  uint64_t tokens, bytes, first_token_ns;
};

static int on_token(void *user_data, const char *text, size_t len) {
  (void)text;
  struct stream *s = user_data;
  if (s->tokens++ == 0) s->first_token_ns = now_ns();
  s->bytes += len;
  return 0;
}

static struct ylokh_request *start(struct ylokh_client *client, struct stream *s) {
  struct ylokh_callbacks cb = {0};
  cb.user_data = s;
  cb.on_token = on_token;
  struct ylokh_request *req = NULL;
  ylokh_status st = ylokh_chat_start(client, "bench", MESSAGES, 1, NULL, true, &cb, &req);
  if (st) die("ylokh_chat_start", st);
  return req;
}

static void finish(struct ylokh_request *req) {
  ylokh_status st = ylokh_request_wait(req, UINT64_MAX);
  if (st) die("request", st);
  ylokh_request_free(req);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static int throughput(const char *base_url) {
  struct ylokh_client *client = make_client(base_url);
  struct stream s = {0};
  uint64_t cpu0 = cpu_ns(), t0 = now_ns();
  finish(start(client, &s));
  uint64_t wall = now_ns() - t0, cpu = cpu_ns() - cpu0;
  ylokh_client_free(client);
  printf("tokens=%llu bytes=%llu wall_ns=%llu cpu_ns=%llu\n", (unsigned long long)s.tokens,
         (unsigned long long)s.bytes, (unsigned long long)wall, (unsigned long long)cpu);
  return 0;
}

static int ttft(const char *base_url, size_t n) {
  struct ylokh_client *client = make_client(base_url);
  for (int i = 0; i < 50; i++) { /* warm: connection, runtime, allocator */
    struct stream s = {0};
    finish(start(client, &s));
  }
  uint64_t *samples = calloc(n, sizeof *samples);
  for (size_t i = 0; i < n; i++) {
    struct stream s = {0};
    uint64_t t0 = now_ns();
    finish(start(client, &s));
    if (s.tokens != 1) {
      fprintf(stderr, "ttft: expected 1 token, got %llu\n", (unsigned long long)s.tokens);
      return 1;
    }
    samples[i] = s.first_token_ns - t0;
  }
  ylokh_client_free(client);
  qsort(samples, n, sizeof *samples, cmp_u64);
  printf("p50_ns=%llu p99_ns=%llu max_ns=%llu\n", (unsigned long long)samples[n / 2],
         (unsigned long long)samples[n * 99 / 100], (unsigned long long)samples[n - 1]);
  free(samples);
  return 0;
}

static void raise_nofile(void);

static int concurrent(const char *base_url, size_t n) {
  raise_nofile();
  struct ylokh_client *client = make_client(base_url);
  struct stream *streams = calloc(n, sizeof *streams);
  struct ylokh_request **reqs = calloc(n, sizeof *reqs);
  long base_kib = rss_kib();
  uint64_t t0 = now_ns();
  for (size_t i = 0; i < n; i++) reqs[i] = start(client, &streams[i]);
  for (size_t i = 0; i < n; i++) finish(reqs[i]);
  uint64_t wall = now_ns() - t0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  uint64_t tokens = 0;
  for (size_t i = 0; i < n; i++) tokens += streams[i].tokens;
  ylokh_client_free(client);
  printf("streams=%zu tokens=%llu wall_ns=%llu base_kib=%ld peak_kib=%ld\n", n,
         (unsigned long long)tokens, (unsigned long long)wall, base_kib, ru.ru_maxrss);
  free(streams);
  free(reqs);
  return 0;
}

static int newfree(size_t n) {
  struct ylokh_options *opts = ylokh_options_new_compatible("http://127.0.0.1:9/v1");
  uint64_t *samples = calloc(n, sizeof *samples);
  for (size_t i = 0; i < n; i++) {
    struct ylokh_client *client = NULL;
    uint64_t t0 = now_ns();
    ylokh_status st = ylokh_client_new(opts, &client);
    if (st) die("ylokh_client_new", st);
    ylokh_client_free(client);
    samples[i] = now_ns() - t0;
  }
  ylokh_options_free(opts);
  qsort(samples, n, sizeof *samples, cmp_u64);
  printf("p50_ns=%llu p99_ns=%llu\n", (unsigned long long)samples[n / 2],
         (unsigned long long)samples[n * 99 / 100]);
  free(samples);
  return 0;
}

static long threads_now(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long n = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "Threads: %ld", &n) == 1) break;
  if (f) fclose(f);
  return n;
}

/* Each pull request holds two descriptors (its socket and its eventfd): 10,000 streams need a
 * limit above 20,000, more than many machines' hard limit (20,000 here). The soft limit goes to
 * the hard one, and both to 65,536 where the process may raise the hard limit (root, or
 * CAP_SYS_RESOURCE); elsewhere the hard limit stays and a run that needs more fails loudly. */
static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  struct rlimit want = rl;
  if (want.rlim_max != RLIM_INFINITY && want.rlim_max < 65536) want.rlim_max = 65536;
  want.rlim_cur = want.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &want) != 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* The event-loop comparison: the same N streams taken with callbacks (on the library's worker
 * thread) or as pull requests whose descriptors sit in one epoll set on this thread. */
static int loop_compare(const char *base_url, size_t n, int use_epoll) {
  raise_nofile();
  struct rlimit rl;
  if (use_epoll && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && 2 * n + 64 > rl.rlim_cur) {
    /* Two descriptors per pull request: where the hard limit cannot be raised (a container
     * without CAP_SYS_RESOURCE), run as many streams as it allows and say so (streams=). */
    n = (rl.rlim_cur - 64) / 2;
    fprintf(stderr, "epoll: the open-files limit %llu allows %zu pull requests at once\n",
            (unsigned long long)rl.rlim_cur, n);
  }
  struct ylokh_client *client = make_client(base_url);
  struct stream *streams = calloc(n, sizeof *streams);
  struct ylokh_request **reqs = calloc(n, sizeof *reqs);
  long base_kib = rss_kib(), threads = 0;
  uint64_t cpu0 = cpu_ns(), t0 = now_ns();
  if (!use_epoll) {
    for (size_t i = 0; i < n; i++) reqs[i] = start(client, &streams[i]);
    threads = threads_now();
    for (size_t i = 0; i < n; i++) finish(reqs[i]);
  } else {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (size_t i = 0; i < n; i++) {
      ylokh_status st = ylokh_chat_start(client, "bench", MESSAGES, 1, NULL, true, NULL, &reqs[i]);
      if (st) die("ylokh_chat_start", st);
      struct epoll_event want = {.events = EPOLLIN, .data.u64 = i};
      if (epoll_ctl(ep, EPOLL_CTL_ADD, ylokh_request_fd(reqs[i]), &want)) die("epoll_ctl", YLOKH_INTERNAL);
    }
    threads = threads_now();
    size_t left = n;
    struct epoll_event ready[256];
    while (left > 0) {
      int k = epoll_wait(ep, ready, 256, -1);
      for (int r = 0; r < k; r++) {
        size_t i = ready[r].data.u64;
        ylokh_event ev;
        while (ylokh_request_next(reqs[i], 0, &ev) == YLOKH_OK) {
          if (ev.kind == YLOKH_EVENT_TOKEN) {
            streams[i].tokens++;
            streams[i].bytes += ev.len;
          } else if (ev.kind == YLOKH_EVENT_DONE) {
            if (ev.result->status) {
              fprintf(stderr, "request %zu: %s: %s\n", i, ylokh_status_str(ev.result->status), ev.result->message);
              exit(1);
            }
            epoll_ctl(ep, EPOLL_CTL_DEL, ylokh_request_fd(reqs[i]), NULL);
            ylokh_request_free(reqs[i]);
            left--;
            break;
          }
        }
      }
    }
    close(ep);
  }
  uint64_t wall = now_ns() - t0, cpu = cpu_ns() - cpu0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  uint64_t tokens = 0;
  for (size_t i = 0; i < n; i++) tokens += streams[i].tokens;
  ylokh_client_free(client);
  printf("streams=%zu tokens=%llu wall_ns=%llu cpu_ns=%llu base_kib=%ld peak_kib=%ld threads=%ld\n", n,
         (unsigned long long)tokens, (unsigned long long)wall, (unsigned long long)cpu, base_kib, ru.ru_maxrss,
         threads);
  free(streams);
  free(reqs);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "throughput")) return throughput(argv[2]);
  if (argc == 4 && !strcmp(argv[1], "ttft")) return ttft(argv[2], strtoul(argv[3], NULL, 10));
  if (argc == 4 && !strcmp(argv[1], "concurrent"))
    return concurrent(argv[2], strtoul(argv[3], NULL, 10));
  if (argc == 4 && !strcmp(argv[1], "callbacks")) return loop_compare(argv[2], strtoul(argv[3], NULL, 10), 0);
  if (argc == 4 && !strcmp(argv[1], "epoll")) return loop_compare(argv[2], strtoul(argv[3], NULL, 10), 1);
  if (argc == 3 && !strcmp(argv[1], "newfree")) return newfree(strtoul(argv[2], NULL, 10));
  fprintf(stderr, "usage: client throughput|ttft|concurrent|newfree ...\n");
  return 2;
}
