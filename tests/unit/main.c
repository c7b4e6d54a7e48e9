/* main.c — runs registered unit tests, each in a forked child with a timeout.
 * Usage: test_unit [substring]. Prints TAP, then "# unit: P passed, F failed". */
#include "t.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define T_MAX 1024

static struct { const char *name; t_fn fn; } tests[T_MAX];
static int ntests;
static char tmpdir[512];
static char datapath[1024];

void t_register(const char *name, t_fn fn)
{
    if (ntests < T_MAX) {
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
    }
}

void t_failf(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "#   %s:%d: ", file, line);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
    _exit(1);
}

const char *t_tmpdir(void)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/hml-test-XXXXXX");
        if (!mkdtemp(tmpdir)) t_failf(__FILE__, __LINE__, "mkdtemp failed");
    }
    return tmpdir;
}

const char *t_shared_data(const char *name)
{
    const char *root = getenv("HARNESS_SHARED");
    snprintf(datapath, sizeof datapath, "%s/data/%s", root ? root : "../shared", name);
    return datapath;
}

static int run_one(int i)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(120);
        tests[i].fn();
        if (tmpdir[0]) {
            char cmd[600];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
            if (system(cmd) != 0) {}
        }
        fflush(stdout);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st)) {
        printf("#   killed by signal %d%s\n", WTERMSIG(st), WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
        return 1;
    }
    return WEXITSTATUS(st) != 0;
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0, n = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < ntests; i++) {
        if (filter && !strstr(tests[i].name, filter)) continue;
        n++;
        int bad = run_one(i);
        printf("%s %d - %s\n", bad ? "not ok" : "ok", n, tests[i].name);
        if (bad) failed++;
        else passed++;
    }
    printf("1..%d\n# unit: %d passed, %d failed\n", n, passed, failed);
    return failed != 0;
}
