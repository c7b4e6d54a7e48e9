/* main.c — `harness mcp`: options, the guard on fd 1, and the server.
 *
 *   harness [--project DIR] mcp [--hot-reload] [--module-dir DIR] [--max-line-bytes N]
 *
 * Environment: HARNESS_HOT_RELOAD=1 (as --hot-reload), HARNESS_MODULE_DIR,
 * HARNESS_MCP_MAX_LINE_BYTES, HARNESS_HOME (the event log), HARNESS_LOG (stderr level).
 */
#include "mcp.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/log.h"
#include "cli/cli.h"

#define LINE_MAX_MIN ((size_t)1 << 10)
#define LINE_MAX_MAX ((size_t)1 << 30)

static const char usage_text[] =
    "usage: harness [--project DIR] mcp [--hot-reload] [--module-dir DIR] [--max-line-bytes N]\n"
    "\n"
    "Serves the tools over MCP on stdin/stdout (JSON-RPC, one message per line).\n"
    "  --project DIR        default project for tool calls (default: the current directory)\n"
    "  --hot-reload         development: load tool modules (DIR/<tool>.so) and reload them\n"
    "                       when rebuilt (also HARNESS_HOT_RELOAD=1); `make modules` builds them\n"
    "  --module-dir DIR     where the modules are (default: modules/ beside the binary)\n"
    "  --max-line-bytes N   longest accepted message (default 16777216)\n";

static int usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "harness mcp: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nrun 'harness mcp --help' for usage\n");
    return 2;
}

static bool parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v < LINE_MAX_MIN || v > LINE_MAX_MAX) return false;
    *out = (size_t)v;
    return true;
}

/* Keeps the protocol stream ours alone. The protocol gets private copies of fds 0 and 1
 * (close-on-exec); fd 1 then points at stderr and fd 0 at /dev/null, so a library that
 * prints (libxgboost does) or reads stdin cannot corrupt or steal the stream. */
static int guard_stdio(int *in_fd, int *out_fd)
{
    fflush(stdout);
    *out_fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
    *in_fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
    if (*out_fd < 0 || *in_fd < 0 || dup2(2, 1) < 0) return -1;
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nul >= 0) {
        dup2(nul, 0);
        close(nul);
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct mcp_options *opt)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return -1;
        } else if (!strcmp(a, "--hot-reload")) {
            opt->hot_reload = true;
        } else if (!strcmp(a, "--module-dir")) {
            if (++i >= argc) return usage("%s needs a directory", a);
            opt->module_dir = argv[i];
        } else if (!strcmp(a, "--max-line-bytes")) {
            if (++i >= argc || !parse_size(argv[i], &opt->line_max))
                return usage("%s needs a byte count between 1024 and 1073741824", a);
        } else {
            return usage("unknown option '%s'", a);
        }
    }
    return 0;
}

int hml_mcp_main(const char *project_dir, int argc, char **argv)
{
    struct mcp_options opt = {.project_dir = project_dir, .line_max = MCP_LINE_MAX_DEFAULT};
    const char *e = getenv("HARNESS_HOT_RELOAD");
    opt.hot_reload = e && *e && strcmp(e, "0");
    opt.module_dir = getenv("HARNESS_MODULE_DIR");
    e = getenv("HARNESS_MCP_MAX_LINE_BYTES");
    if (e && !parse_size(e, &opt.line_max))
        return usage("HARNESS_MCP_MAX_LINE_BYTES='%s' is not a byte count between 1024 and 1073741824", e);
    int rc = parse_args(argc, argv, &opt);
    if (rc) return rc < 0 ? 0 : rc;
    if (project_dir && access(project_dir, F_OK) != 0)
        hml_log_warn("mcp: project directory '%s' does not exist yet (configure init creates it)", project_dir);

    /* A client that goes away must not kill us mid-write: EPIPE is handled where it happens. */
    signal(SIGPIPE, SIG_IGN);
    int in_fd, out_fd;
    if (guard_stdio(&in_fd, &out_fd)) {
        fprintf(stderr, "harness mcp: cannot set up stdin/stdout: %s\n", strerror(errno));
        return 1;
    }
    hml_json_init();
    return mcp_serve(&opt, in_fd, out_fd);
}
