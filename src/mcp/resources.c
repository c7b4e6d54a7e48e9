/* resources.c — project artifacts as MCP resources: the config, the experiment log, the
 * notebook summary and run reports. Something that does not exist yet is not an error:
 * the resource says so plainly and names the action that creates it. */
#include "mcp.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/alloc.h"
#include "harness/fsx.h"
#include "harness/notebook.h"

#define READ_MAX     ((size_t)1 << 20) /* bytes of one resource             */
#define RUNS_LISTED  20                /* newest run reports in the list      */

#define URI_CONFIG   "harness://project/config"
#define URI_LOG      "harness://project/experiment-log"
#define URI_NOTEBOOK "harness://project/notebook-summary"
#define URI_RUN_PRE  "harness://runs/"
#define URI_RUN_POST "/report"

static const struct {
    const char *uri, *name, *title, *desc, *mime;
} fixed[] = {
    {URI_CONFIG, "config", "Project config", "The project's config files (config/*.yaml), the source of truth",
     "text/yaml"},
    {URI_LOG, "experiment-log", "Experiment log",
     "EXPERIMENT_LOG.md: every experiment with its hypothesis, changes and verdict", "text/markdown"},
    {URI_NOTEBOOK, "notebook-summary", "Notebook summary",
     "The research notebook at a glance: plans, findings, decisions", "text/markdown"},
};
#define NFIXED (sizeof fixed / sizeof *fixed)

/* ---- runs ------------------------------------------------------------------------------------ */

struct run {
    char id[128];
    double mtime;
};

static int newest_first(const void *a, const void *b)
{
    double x = ((const struct run *)a)->mtime, y = ((const struct run *)b)->mtime;
    return x < y ? 1 : x > y ? -1 : strcmp(((const struct run *)a)->id, ((const struct run *)b)->id);
}

static bool valid_run_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n >= 128 || id[0] == '.') return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", id[i])) return false;
    return true;
}

/* Runs with a report under outputs/, newest first; at most cap. */
static size_t list_runs(const char *project, struct run *runs, size_t cap)
{
    char *dir = hml_path_join(project, "outputs");
    DIR *d = dir ? opendir(dir) : NULL;
    size_t n = 0, seen = 0;
    struct run all[256];
    for (struct dirent *e; d && (e = readdir(d)) && seen < 256;) {
        if (!valid_run_id(e->d_name)) continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s/report.md", dir, e->d_name);
        if (stat(path, &st) || !S_ISREG(st.st_mode)) continue;
        snprintf(all[seen].id, sizeof all[seen].id, "%s", e->d_name);
        all[seen++].mtime = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec * 1e-9;
    }
    if (d) closedir(d);
    hml_free(dir);
    qsort(all, seen, sizeof *all, newest_first);
    for (; n < seen && n < cap; n++) runs[n] = all[n];
    return n;
}

json_t *mcp_resources_list(const char *project_dir)
{
    json_t *list = json_array();
    for (size_t i = 0; i < NFIXED; i++)
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:s}", "uri", fixed[i].uri, "name", fixed[i].name,
                                              "title", fixed[i].title, "description", fixed[i].desc, "mimeType",
                                              fixed[i].mime));
    struct run runs[RUNS_LISTED];
    size_t n = list_runs(project_dir, runs, RUNS_LISTED);
    for (size_t i = 0; i < n; i++) {
        char uri[300], name[160];
        snprintf(uri, sizeof uri, URI_RUN_PRE "%s" URI_RUN_POST, runs[i].id);
        snprintf(name, sizeof name, "run %s", runs[i].id);
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s}", "uri", uri, "name", name, "description",
                                              "the report of one backtest run", "mimeType", "text/markdown"));
    }
    return json_pack("{s:o}", "resources", list);
}

json_t *mcp_resource_templates_list(void)
{
    return json_pack("{s:[{s:s,s:s,s:s,s:s}]}", "resourceTemplates", "uriTemplate",
                     URI_RUN_PRE "{run_id}" URI_RUN_POST, "name", "run-report", "description",
                     "the report of a backtest run (run ids: pipeline action list_runs)", "mimeType",
                     "text/markdown");
}

/* ---- reading ------------------------------------------------------------------------------------ */

/* Appends the file (cut at READ_MAX) to t; false when it cannot be read. */
static bool append_file(struct hml_buf *t, const char *path)
{
    char *text = NULL;
    size_t n = 0;
    struct hml_error err;
    struct stat st;
    if (stat(path, &st) || !S_ISREG(st.st_mode)) return false;
    size_t want = (size_t)st.st_size > READ_MAX ? READ_MAX : (size_t)st.st_size;
    if ((size_t)st.st_size > READ_MAX) {
        FILE *f = fopen(path, "rb");
        if (!f) return false;
        text = hml_malloc(want + 1);
        n = text ? fread(text, 1, want, f) : 0;
        fclose(f);
        if (!text) return false;
        text[n] = 0;
    } else if (hml_read_file(path, READ_MAX, &text, &n, &err)) {
        return false;
    }
    hml_buf_append(t, text, n);
    if ((size_t)st.st_size > READ_MAX)
        hml_buf_printf(t, "\n… cut at %zu of %lld bytes; read the file itself for the rest\n", want,
                       (long long)st.st_size);
    hml_free(text);
    return true;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void read_config(const char *project, struct hml_buf *t)
{
    char *dir = hml_path_join(project, "config");
    DIR *d = dir ? opendir(dir) : NULL;
    char *names[64];
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d)) && n < 64;) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] != '.' && len > 5 && !strcmp(e->d_name + len - 5, ".yaml")) names[n++] = hml_strdup(e->d_name);
    }
    if (d) closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        char *path = names[i] ? hml_path_join(dir, names[i]) : NULL;
        hml_buf_printf(t, "%s# config/%s\n", i ? "\n" : "", names[i] ? names[i] : "?");
        if (!path || !append_file(t, path)) hml_buf_puts(t, "# (could not be read)\n");
        hml_free(path);
        hml_free(names[i]);
    }
    if (!n)
        hml_buf_printf(t, "No project at '%s' yet, so there is no config to show. Create one with the "
                          "`configure` tool, action=init (task, target_column).\n", project);
    hml_free(dir);
}

static void read_log(const char *project, struct hml_buf *t)
{
    char *path = hml_path_join(project, "EXPERIMENT_LOG.md");
    if (!path || !append_file(t, path))
        hml_buf_printf(t, "No experiment log yet at '%s/EXPERIMENT_LOG.md'. It is created with the project "
                          "(`configure` action=init) and updated by each experiment's conclusion "
                          "(`experiments` action=log_result).\n", project);
    hml_free(path);
}

/* The notebook tool's summary, so the resource and the tool say the same thing. */
static void read_notebook(const char *project, struct hml_buf *t)
{
    if (hml_tool_find("notebook")) {
        json_t *args = json_pack("{s:s}", "action", "summary");
        struct hml_call_opts opts = {.default_project_dir = project};
        struct hml_reply r;
        struct hml_error err;
        if (hml_tool_call("notebook", args, &opts, &r, &err) == HML_OK && !r.is_error) {
            hml_buf_puts(t, r.text ? r.text : "");
            hml_reply_fini(&r);
            json_decref(args);
            return;
        }
        hml_reply_fini(&r);
        json_decref(args);
    }
    /* No tool (a hot reload may have removed it) or no project yet: the engine gives the
     * same summary straight from notebook/entries.jsonl. */
    struct hml_notebook *nb = NULL;
    struct hml_error err;
    enum hml_status rc = hml_notebook_load(project, &nb, &err);
    if (!rc) rc = hml_notebook_summary(nb, false, t, NULL, &err);
    if (rc) hml_buf_printf(t, "The notebook in '%s' cannot be read: %s. %s\n", project, err.message, err.hint);
    hml_notebook_free(nb);
}

/* "harness://runs/<id>/report" → the run id, or NULL. */
static bool run_uri(const char *uri, char *id, size_t cap)
{
    size_t pre = strlen(URI_RUN_PRE), post = strlen(URI_RUN_POST), n = strlen(uri);
    if (strncmp(uri, URI_RUN_PRE, pre) || n <= pre + post || strcmp(uri + n - post, URI_RUN_POST)) return false;
    snprintf(id, cap, "%.*s", (int)(n - pre - post), uri + pre);
    return true;
}

static bool read_run(const char *project, const char *id, struct hml_buf *t, struct mcp_fail *f)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/outputs/%s/report.md", project, id);
    if (valid_run_id(id) && append_file(t, path)) return true;
    struct run runs[RUNS_LISTED];
    size_t n = list_runs(project, runs, RUNS_LISTED);
    const char *names[RUNS_LISTED];
    for (size_t i = 0; i < n; i++) names[i] = runs[i].id;
    mcp_fail_choices(f, "run", id, names, n);
    return false;
}

json_t *mcp_resources_read(const char *project_dir, const json_t *params, struct mcp_fail *f)
{
    const char *uri = hml_json_str(params, "uri", NULL);
    const char *mime = "text/markdown";
    struct hml_buf t = HML_BUF_INIT;
    char id[256];
    if (!uri) {
        f->code = RPC_INVALID_PARAMS;
        snprintf(f->message, sizeof f->message, "resources/read needs params.uri (see resources/list)");
        return NULL;
    } else if (!strcmp(uri, URI_CONFIG)) {
        read_config(project_dir, &t);
        mime = "text/yaml";
    } else if (!strcmp(uri, URI_LOG)) {
        read_log(project_dir, &t);
    } else if (!strcmp(uri, URI_NOTEBOOK)) {
        read_notebook(project_dir, &t);
    } else if (run_uri(uri, id, sizeof id)) {
        if (!read_run(project_dir, id, &t, f)) {
            hml_buf_free(&t);
            return NULL;
        }
    } else {
        const char *names[NFIXED];
        for (size_t i = 0; i < NFIXED; i++) names[i] = fixed[i].uri;
        mcp_fail_choices(f, "resource", uri, names, NFIXED);
        json_object_set_new(f->data, "uri", json_string(uri));
        return NULL;
    }
    json_t *res = json_pack("{s:[{s:s,s:s,s:o}]}", "contents", "uri", uri, "mimeType", mime, "text",
                            mcp_json_text(hml_buf_str(&t)));
    hml_buf_free(&t);
    return res;
}
