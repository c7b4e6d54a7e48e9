/* main.c — the `harness` command: tools from a shell, and the other faces.
 *
 *   harness [--project DIR] [--format md|json] <tool> <action> [--<param> <value>]...
 *           [--json '<object>']
 *
 * Exit status: 0 success, 1 the action returned an error, 2 usage error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <limits.h>

#include "harness/alloc.h"
#include "harness/buf.h"
#include "harness/events.h"
#include "harness/json.h"
#include "harness/tool.h"
#include "cli.h"

/* libgomp's worker threads spin while idle and starve a busy 2-core machine;
 * passive waiting must be set before the runtime starts, hence the re-exec. */
static void ensure_passive_omp(char **argv)
{
    if (getenv("OMP_WAIT_POLICY")) return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv);
    /* If re-exec fails we run on: only speed is at stake. */
}

static int usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "harness: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nrun 'harness --help' for usage\n");
    return 2;
}

/* ---- progress bar (stderr, only on a terminal) ------------------------------------------ */

struct bar {
    bool on;
    double last;
    struct hml_events *ev;       /* the Studio event log, or NULL */
    struct hml_event_call *call;
};

static void bar_update(void *ud, double done, double total, const char *msg)
{
    struct bar *b = ud;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    if (now - b->last < 0.1 && done < total) return;
    b->last = now;
    hml_events_progress(b->ev, b->call, done, total, msg);
    if (!b->on) return;
    int width = 30, fill = total > 0 ? (int)(width * (done / total)) : 0;
    if (fill > width) fill = width;
    fprintf(stderr, "\r[%.*s%*s] %3.0f%% %-40.40s", fill, "##############################",
            width - fill, "", total > 0 ? 100.0 * done / total : 0.0, msg ? msg : "");
    if (total > 0 && done >= total) fputc('\n', stderr);
    fflush(stderr);
}

/* ---- argument parsing ------------------------------------------------------------------- */

static void normalise_name(char *s)
{
    for (; *s; s++)
        if (*s == '-') *s = '_';
}

/* Turns "--name value" pairs into an object of strings (types are coerced by the
 * validator against the schema). A flag with no value means true. */
static int parse_params(int argc, char **argv, int i, json_t *args)
{
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) return usage("unexpected argument '%s' (parameters are --name value)", a);
        char name[128];
        const char *eq = strchr(a + 2, '=');
        size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (n == 0 || n >= sizeof name) return usage("bad parameter '%s'", a);
        memcpy(name, a + 2, n);
        name[n] = 0;
        normalise_name(name);
        if (!strcmp(name, "json")) {
            const char *text = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!text) return usage("%s", "--json needs a JSON object");
            json_t *obj;
            struct hml_error err;
            if (hml_json_parse(text, strlen(text), &obj, &err) || !json_is_object(obj)) {
                fprintf(stderr, "harness: --json: %s\n", json_is_object(obj) ? err.message : "must be a JSON object");
                return 2;
            }
            json_object_update(args, obj);
            json_decref(obj);
            continue;
        }
        const char *val;
        if (eq) val = eq + 1;
        else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) val = argv[++i];
        else val = "true";
        json_object_set_new(args, name, json_string(val));
    }
    return 0;
}

static int print_help(const char *tool, const char *action)
{
    struct hml_buf b = HML_BUF_INIT;
    if (!tool) {
        hml_tools_help(&b);
    } else {
        const struct hml_tool *t = hml_tool_find(tool);
        if (!t) {
            hml_buf_free(&b);
            return usage("unknown tool '%s'", tool);
        }
        const struct hml_action *a = action ? hml_action_find(t, action) : NULL;
        if (action && !a) {
            hml_buf_free(&b);
            return usage("unknown action '%s'", action);
        }
        hml_tool_help(t, a, &b);
    }
    fputs(hml_buf_str(&b), stdout);
    hml_buf_free(&b);
    return 0;
}

static int run_tool(const char *project, bool json_out, int argc, char **argv, int i)
{
    const char *tool = argv[i++];
    if (!hml_tool_find(tool)) {
        struct hml_error err;
        struct hml_reply r;
        hml_tool_call(tool, NULL, NULL, &r, &err);
        fprintf(stderr, "harness: %s\n%s\n", err.message, err.hint);
        return 2;
    }
    if (i >= argc || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return print_help(tool, NULL);
    const char *action = argv[i++];
    if (i < argc && (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))) return print_help(tool, action);
    json_t *args = json_pack("{s:s}", "action", action);
    int rc = parse_params(argc, argv, i, args);
    if (rc) {
        json_decref(args);
        return rc;
    }
    /* Every call is logged for Studio; the log never decides the outcome (events.h). */
    char dir[PATH_MAX];
    const char *pd = hml_json_str(args, "project_dir", project ? project : ".");
    if (!realpath(pd, dir)) snprintf(dir, sizeof dir, "%s", pd);
    struct hml_event_call ec;
    struct bar bar = {.on = isatty(2) && !json_out, .ev = hml_events_open_default(), .call = &ec};
    hml_events_begin(bar.ev, &ec, tool, action, dir, "cli", args);
    struct hml_call_opts opts = {.default_project_dir = project, .progress = bar_update, .progress_ud = &bar};
    struct hml_reply r;
    struct hml_error err;
    hml_tool_call(tool, args, &opts, &r, &err);
    json_decref(args);
    hml_events_end(bar.ev, &ec, r.is_error ? hml_json_str(json_object_get(r.structured, "error"), "code", "internal")
                                           : NULL, r.text);
    hml_events_close(bar.ev);
    if (json_out) {
        char *s = json_dumps(r.structured, JSON_COMPACT | JSON_REAL_PRECISION(17));
        fputs(s ? s : "{}", stdout);
        fputc('\n', stdout);
        hml_free(s);
    } else {
        fputs(r.text ? r.text : "", r.is_error ? stderr : stdout);
    }
    rc = r.is_error ? (r.usage_error ? 2 : 1) : 0;
    hml_reply_fini(&r);
    return rc;
}

int main(int argc, char **argv)
{
    ensure_passive_omp(argv);
    const char *project = NULL;
    bool json_out = false;
    int i = 1;
    for (; i < argc && !strncmp(argv[i], "-", 1); i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--project") || !strcmp(a, "-C")) {
            if (++i >= argc) return usage("%s needs a directory", a);
            project = argv[i];
        } else if (!strncmp(a, "--project=", 10)) {
            project = a + 10;
        } else if (!strcmp(a, "--format")) {
            if (++i >= argc) return usage("%s", "--format needs md or json");
            if (!strcmp(argv[i], "json")) json_out = true;
            else if (strcmp(argv[i], "md")) return usage("unknown format '%s' (md or json)", argv[i]);
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            return print_help(NULL, NULL);
        } else if (!strcmp(a, "--version")) {
            printf("harness %s\n", HML_VERSION);
            return 0;
        } else {
            return usage("unknown option '%s'", a);
        }
    }
    if (i >= argc) {
        print_help(NULL, NULL);
        return 2;
    }
    const char *cmd = argv[i];
    if (!strcmp(cmd, "help")) return print_help(i + 1 < argc ? argv[i + 1] : NULL, i + 2 < argc ? argv[i + 2] : NULL);
    const struct hml_face *face = hml_cli_face_find(cmd);
    if (face) return face->main(project, argc - i, argv + i);
    return run_tool(project, json_out, argc, argv, i);
}
