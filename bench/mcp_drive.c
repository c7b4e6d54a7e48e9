/* mcp_drive.c — drives `harness mcp` over pipes and measures what an agent feels:
 * round-trip latency of ping and tools/list, the size of the tools/list answer, and the
 * server's resident memory when idle.
 *
 *   mcp_drive HARNESS_BIN [ROUND_TRIPS]
 *
 * Prints key=value lines for mcp_bench.sh. Round trips are sequential (send, wait for the
 * answer, repeat), as a client waiting on each answer sees them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int to_srv = -1, from_srv = -1;
static char rbuf[1 << 20];
static size_t rlen;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
    fprintf(stderr, "mcp_drive: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void send_line(const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(to_srv, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die("write");
        s += w;
        n -= (size_t)w;
    }
}

/* Reads one line (without '\n') into a static buffer; returns its length. */
static size_t read_line(char **line)
{
    static size_t start;
    if (start) {
        memmove(rbuf, rbuf + start, rlen - start);
        rlen -= start;
        start = 0;
    }
    for (;;) {
        char *nl = memchr(rbuf, '\n', rlen);
        if (nl) {
            *line = rbuf;
            start = (size_t)(nl - rbuf) + 1;
            return (size_t)(nl - rbuf);
        }
        if (rlen == sizeof rbuf) die("line too long");
        ssize_t r = read(from_srv, rbuf + rlen, sizeof rbuf - rlen);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) die("read (server gone)");
        rlen += (size_t)r;
    }
}

/* Sends a request and waits for its answer; returns the answer's length. */
static size_t round_trip(const char *req, double *ms)
{
    double t0 = now_ms();
    send_line(req);
    char *line;
    size_t n = read_line(&line);
    *ms = now_ms() - t0;
    if (n < 20 || !memmem(line, n, "\"result\"", 8)) {
        fprintf(stderr, "mcp_drive: unexpected answer: %.200s\n", line);
        exit(1);
    }
    return n;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void measure(const char *name, const char *method, int n)
{
    double *t = malloc(sizeof *t * (size_t)n);
    char req[256];
    size_t bytes = 0;
    if (!t) die("malloc");
    for (int i = 0; i < n + n / 10; i++) { /* the first tenth warms up */
        snprintf(req, sizeof req, "{\"jsonrpc\":\"2.0\",\"id\":\"%s-%d\",\"method\":\"%s\"}\n", name, i, method);
        double ms;
        bytes = round_trip(req, &ms);
        if (i >= n / 10) t[i - n / 10] = ms;
    }
    qsort(t, (size_t)n, sizeof *t, cmp);
    printf("%s_median_ms=%.4f\n%s_p99_ms=%.4f\n%s_bytes=%zu\n", name, t[n / 2], name, t[n * 99 / 100], name, bytes);
    free(t);
}

static long status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key))) kb = strtol(line + strlen(key), NULL, 10);
    if (f) fclose(f);
    return kb;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: mcp_drive HARNESS_BIN [ROUND_TRIPS]\n");
        return 2;
    }
    int n = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 2000;
    if (n < 10) n = 10;
    int in[2], out[2];
    if (pipe(in) || pipe(out)) die("pipe");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl(argv[1], argv[1], "mcp", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_srv = in[1];
    from_srv = out[0];
    signal(SIGPIPE, SIG_IGN);

    double ms;
    round_trip("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
               "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"mcp_drive\",\"version\":\"1\"}}}\n",
               &ms);
    printf("initialize_ms=%.3f\n", ms);
    send_line("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
    measure("ping", "ping", n);
    measure("tools_list", "tools/list", n);
    sleep(1); /* idle: let anything transient settle */
    printf("idle_rss_kb=%ld\nidle_hwm_kb=%ld\n", status_kb(pid, "VmRSS:"), status_kb(pid, "VmHWM:"));
    close(to_srv); /* EOF: the server exits 0 */
    int st = 0;
    waitpid(pid, &st, 0);
    printf("exit=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return 0;
}
