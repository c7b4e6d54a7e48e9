/* server.c — JSON-RPC dispatch (main thread) and tool calls (worker thread).
 *
 * The main thread answers everything but tools/call itself, so ping, lists and
 * cancellation stay instant while a long call runs. Tool calls run one at a time, in
 * arrival order, on the worker: actions change project files, and one writer per
 * project is the simplest way to keep every change all-or-nothing.
 */
#include "mcp.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness/alloc.h"
#include "harness/log.h"
#include "cli/cli.h"

#define PROGRESS_INTERVAL_S 0.05 /* at most ~20 progress notifications a second per call */
#define RELOAD_INTERVAL_S   0.25 /* idle polling of the module directory               */

static const char *const protocol_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};
static const char *const log_levels[] = {"debug", "info", "notice", "warning",
                                         "error", "critical", "alert", "emergency"};
enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARNING = 3 };

struct job {
    struct job *next;
    json_t *id;
    char *id_key;
    char *tool;
    json_t *args;
    json_t *progress_token;
    char caller[96];        /* who asked, as of queueing (initialize may change it) */
    volatile int cancel;    /* read by the action (hml_cancelled)          */
    bool cancelled;         /* under mu: the client cancelled; no response */
    double last_progress, last_sent;
    bool sent_any;
    struct hml_event_call ev;
};

struct server {
    pthread_mutex_t mu;
    pthread_cond_t main_cv;   /* a line arrived, EOF, or the worker went idle */
    pthread_cond_t worker_cv; /* a job was queued, or stopping                */
    struct mcp_inbox in;
    struct job *jobs_head, *jobs_tail, *running;
    size_t jobs_n;
    bool stopping;
    char *reload_note;        /* under mu: added to the next tool result      */

    /* main thread only */
    const struct mcp_options *opt;
    char *project_dir;
    char caller[96];
    bool initialized;
    int log_level;
    char *tools_cache;
    char *recent_ids[MCP_RECENT_IDS];
    size_t recent_pos;
    struct mcp_reload *reload;
    double last_reload;

    /* worker thread only */
    struct hml_events *events;
    bool events_tried;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sends notifications/message when the client's level admits it; always logs to stderr. */
static void client_log(struct server *s, int level, const char *fmt, ...) HML_PRINTF(3, 4);
static void client_log(struct server *s, int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hml_log(level >= LOG_WARNING ? HML_LOG_WARN : HML_LOG_INFO, "mcp: %s", msg);
    if (!s->initialized || level < s->log_level) return;
    mcp_notify("notifications/message",
               json_pack("{s:s,s:s,s:o}", "level", log_levels[level], "logger", "harness", "data", mcp_json_text(msg)));
}

/* ---- jobs ------------------------------------------------------------------------------ */

static void job_free(struct job *j)
{
    if (!j) return;
    json_decref(j->id);
    json_decref(j->args);
    json_decref(j->progress_token);
    hml_free(j->id_key);
    hml_free(j->tool);
    hml_free(j);
}

struct progress_ctx {
    struct server *s;
    struct job *job;
};

/* Progress from the action (worker thread): strictly increasing, rate-limited, and the
 * last step of a known total always goes out. */
static void job_progress(void *ud, double done, double total, const char *message)
{
    struct progress_ctx *c = ud;
    struct job *j = c->job;
    if (j->cancel || (j->sent_any && !(done > j->last_progress))) return;
    double now = now_s();
    bool last = total > 0 && done >= total;
    if (j->sent_any && now - j->last_sent < PROGRESS_INTERVAL_S && !last) return;
    j->sent_any = true;
    j->last_progress = done;
    j->last_sent = now;
    if (j->progress_token) {
        json_t *p = json_pack("{s:O,s:f}", "progressToken", j->progress_token, "progress", done);
        if (total > 0) json_object_set_new(p, "total", json_real(total));
        if (message && *message) json_object_set_new(p, "message", mcp_json_text(message));
        mcp_notify("notifications/progress", p);
    }
    hml_events_progress(c->s->events, &j->ev, done, total, message);
}

static char *take_reload_note(struct server *s)
{
    pthread_mutex_lock(&s->mu);
    char *note = s->reload_note;
    s->reload_note = NULL;
    pthread_mutex_unlock(&s->mu);
    return note;
}

static json_t *call_result(struct hml_reply *r, const char *note)
{
    struct hml_buf t = HML_BUF_INIT;
    hml_buf_puts(&t, r->text ? r->text : "");
    if (note) hml_buf_printf(&t, "\n[hot reload] %s", note);
    json_t *content = json_pack("[{s:s,s:o}]", "type", "text", "text", mcp_json_text(hml_buf_str(&t)));
    hml_buf_free(&t);
    json_t *res = json_pack("{s:o,s:b}", "content", content, "isError", r->is_error);
    if (r->structured) json_object_set(res, "structuredContent", r->structured);
    return res;
}

static const char *error_code_of(const struct hml_reply *r)
{
    if (!r->is_error) return NULL;
    const char *code = hml_json_str(json_object_get(r->structured, "error"), "code", NULL);
    return code ? code : "internal";
}

static void run_job(struct server *s, struct job *j)
{
    if (!s->events_tried) {
        s->events = hml_events_open_default();
        s->events_tried = true;
    }
    const char *action = hml_json_str(j->args, "action", NULL);
    const char *given = hml_json_str(j->args, "project_dir", NULL);
    char real[PATH_MAX];
    const char *dir = !given ? s->project_dir : realpath(given, real) ? real : given;
    hml_events_begin(s->events, &j->ev, j->tool, action, dir, j->caller, j->args);
    struct progress_ctx pc = {s, j};
    struct hml_call_opts opts = {.default_project_dir = s->project_dir, .progress = job_progress,
                                 .progress_ud = &pc, .cancel = &j->cancel};
    struct hml_reply r;
    struct hml_error err;
    hml_error_clear(&err);
    json_t *args = j->args ? j->args : json_object();
    enum hml_status rc = hml_tool_call(j->tool, args, &opts, &r, &err);
    if (!j->args) json_decref(args);
    pthread_mutex_lock(&s->mu);
    bool cancelled = j->cancelled;
    pthread_mutex_unlock(&s->mu);
    char *note = cancelled ? NULL : take_reload_note(s); /* a cancelled call shows nothing */
    if (rc) {
        /* The tool vanished between queueing and running (cannot happen: reloads wait for
         * an idle worker), reported rather than asserted. */
        hml_events_end(s->events, &j->ev, "not_found", err.message);
        if (!cancelled) mcp_send_error(j->id, RPC_INVALID_PARAMS, err.message, NULL);
    } else {
        hml_events_end(s->events, &j->ev, cancelled ? "cancelled" : error_code_of(&r),
                       cancelled ? "cancelled by the client" : r.text);
        if (!cancelled) mcp_send_result(j->id, call_result(&r, note));
        hml_reply_fini(&r);
    }
    hml_free(note);
}

static void *worker_main(void *arg)
{
    struct server *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->jobs_head && !s->stopping) pthread_cond_wait(&s->worker_cv, &s->mu);
        struct job *j = s->jobs_head;
        if (!j) break;
        s->jobs_head = j->next;
        if (!s->jobs_head) s->jobs_tail = NULL;
        s->jobs_n--;
        s->running = j;
        pthread_mutex_unlock(&s->mu);
        run_job(s, j);
        pthread_mutex_lock(&s->mu);
        s->running = NULL;
        pthread_cond_signal(&s->main_cv);
        job_free(j);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static bool worker_idle(struct server *s)
{
    pthread_mutex_lock(&s->mu);
    bool idle = !s->running && !s->jobs_head;
    pthread_mutex_unlock(&s->mu);
    return idle;
}

/* ---- ids ------------------------------------------------------------------------------------ */

static char *id_key(const json_t *id)
{
    return json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* MCP forbids reusing an id within a session; we remember the last MCP_RECENT_IDS and every
 * id still in flight. */
static bool id_seen(struct server *s, const char *key)
{
    for (size_t i = 0; i < MCP_RECENT_IDS; i++)
        if (s->recent_ids[i] && !strcmp(s->recent_ids[i], key)) return true;
    bool found = false;
    pthread_mutex_lock(&s->mu);
    for (struct job *j = s->jobs_head; j && !found; j = j->next) found = !strcmp(j->id_key, key);
    if (s->running && !strcmp(s->running->id_key, key)) found = true;
    pthread_mutex_unlock(&s->mu);
    return found;
}

static void id_remember(struct server *s, const char *key)
{
    size_t i = s->recent_pos++ % MCP_RECENT_IDS;
    hml_free(s->recent_ids[i]);
    s->recent_ids[i] = hml_strdup(key);
}

static const char *tools_list_json(struct server *s);

/* ---- hot reload ------------------------------------------------------------------------------- */

static void reload_now(struct server *s)
{
    s->last_reload = now_s();
    char *note = NULL;
    bool changed = mcp_reload_poll(s->reload, &note);
    if (note) {
        client_log(s, LOG_WARNING, "hot reload: %s", note);
        pthread_mutex_lock(&s->mu);
        if (s->reload_note) { /* not yet shown: keep both */
            struct hml_buf b = HML_BUF_INIT;
            hml_buf_printf(&b, "%s\n%s", s->reload_note, note);
            hml_free(note);
            note = hml_buf_detach(&b);
            hml_free(s->reload_note);
        }
        s->reload_note = note;
        pthread_mutex_unlock(&s->mu);
    }
    if (!changed) return;
    /* Tell the client only when what tools/list shows changed (a rebuilt module with the
     * same tables needs no re-listing). */
    char *old = s->tools_cache;
    s->tools_cache = NULL;
    const char *now = tools_list_json(s);
    bool differs = !old || !now || strcmp(old, now);
    hml_free(old);
    if (differs && s->initialized) mcp_notify("notifications/tools/list_changed", NULL);
}

/* Between requests only: a module is never replaced while a call may be inside it. */
static void maybe_reload(struct server *s, bool force)
{
    if (!s->reload || (!force && now_s() - s->last_reload < RELOAD_INTERVAL_S)) return;
    if (worker_idle(s)) reload_now(s);
}

/* ---- methods ------------------------------------------------------------------------------------ */

static void fail_params(const json_t *id, const char *fmt, ...) HML_PRINTF(2, 3);
static void fail_params(const json_t *id, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mcp_send_error(id, RPC_INVALID_PARAMS, msg, NULL);
}

void mcp_fail_choices(struct mcp_fail *f, const char *what, const char *given, const char *const *names,
                      size_t n)
{
    struct hml_error e;
    hml_error_clear(&e);
    if (given && *given) hml_fail(&e, HML_EINVAL, "mcp", "unknown %s '%s'", what, given);
    else hml_fail(&e, HML_EINVAL, "mcp", "a %s name is required", what);
    hml_error_choices(&e, given ? given : "", names, n);
    f->code = RPC_INVALID_PARAMS;
    snprintf(f->message, sizeof f->message, "%s; %s", e.message, e.hint);
    json_t *valid = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(valid, json_string(names[i]));
    f->data = json_pack("{s:s,s:o}", "hint", e.hint, "valid_values", valid);
    if (e.did_you_mean[0]) json_object_set_new(f->data, "did_you_mean", json_string(e.did_you_mean));
}

static void send_fail(const json_t *id, struct mcp_fail *f)
{
    mcp_send_error(id, f->code, f->message, f->data);
    f->data = NULL;
}

static void m_initialize(struct server *s, const json_t *id, const json_t *params)
{
    const char *asked = hml_json_str(params, "protocolVersion", NULL);
    if (!asked) {
        fail_params(id, "initialize needs params.protocolVersion (this server speaks %s, %s and %s)",
                    protocol_versions[0], protocol_versions[1], protocol_versions[2]);
        return;
    }
    const char *version = MCP_PROTOCOL_LATEST;
    for (size_t i = 0; i < sizeof protocol_versions / sizeof *protocol_versions; i++)
        if (!strcmp(asked, protocol_versions[i])) version = protocol_versions[i];
    const char *client = hml_json_str(json_object_get(params, "clientInfo"), "name", "unknown");
    snprintf(s->caller, sizeof s->caller, "mcp:%s", client);
    json_t *caps = json_pack("{s:{s:b},s:{s:b},s:{s:b,s:b},s:{}}", "tools", "listChanged", 1, "prompts",
                             "listChanged", 0, "resources", "subscribe", 0, "listChanged", 0, "logging");
    json_t *info = json_pack("{s:s,s:s,s:s}", "name", "harness", "title", "Harness", "version", HML_VERSION);
    mcp_send_result(id, json_pack("{s:s,s:o,s:o,s:s}", "protocolVersion", version, "capabilities", caps,
                                  "serverInfo", info, "instructions", mcp_instructions));
}

/* Annotations follow from the action flags: a tool is read-only when every action is,
 * destructive when any action is (the hint's default is true, so it is always stated). */
static json_t *annotations(const struct hml_tool *t)
{
    bool all_read = true, any_destructive = false;
    for (const struct hml_action *a = t->actions; a->name; a++) {
        all_read &= (a->flags & HML_ACT_READONLY) != 0;
        any_destructive |= (a->flags & HML_ACT_DESTRUCTIVE) != 0;
    }
    return json_pack("{s:s,s:b,s:b,s:b,s:b}", "title", t->title ? t->title : t->name, "readOnlyHint", all_read,
                     "destructiveHint", !all_read && any_destructive, "idempotentHint", all_read,
                     "openWorldHint", 0);
}

static const char *tools_list_json(struct server *s)
{
    if (s->tools_cache) return s->tools_cache;
    json_t *tools = json_array();
    for (size_t i = 0, n = hml_tools_count(); i < n; i++) {
        const struct hml_tool *t = hml_tools_at(i);
        json_t *o = json_pack("{s:s,s:s,s:s}", "name", t->name, "title", t->title ? t->title : t->name,
                              "description", t->description ? t->description : "");
        json_object_set_new(o, "inputSchema", hml_tool_input_schema(t));
        json_object_set_new(o, "outputSchema", hml_tool_output_schema(t));
        json_object_set_new(o, "annotations", annotations(t));
        json_array_append_new(tools, o);
    }
    json_t *res = json_pack("{s:o}", "tools", tools);
    s->tools_cache = json_dumps(res, JSON_COMPACT);
    json_decref(res);
    return s->tools_cache;
}

static void m_tools_list(struct server *s, const json_t *id)
{
    maybe_reload(s, true);
    const char *text = tools_list_json(s);
    if (text) mcp_send_result_raw(id, text);
    else mcp_send_error(id, RPC_INTERNAL_ERROR, "out of memory building the tool list", NULL);
}

static void unknown_tool(const json_t *id, const char *name)
{
    const char *names[64];
    size_t n = 0;
    for (size_t i = 0; i < hml_tools_count() && n < 64; i++) names[n++] = hml_tools_at(i)->name;
    struct mcp_fail f = {0};
    mcp_fail_choices(&f, "tool", name, names, n);
    send_fail(id, &f);
}

static void m_tools_call(struct server *s, const json_t *id, const char *key, const json_t *params)
{
    maybe_reload(s, true);
    const char *name = hml_json_str(params, "name", NULL);
    if (!name) {
        unknown_tool(id, "");
        return;
    }
    if (!hml_tool_find(name)) {
        unknown_tool(id, name);
        return;
    }
    const json_t *args = json_object_get(params, "arguments");
    const json_t *token = json_object_get(json_object_get(params, "_meta"), "progressToken");
    struct job *j = hml_calloc(1, sizeof *j);
    if (j) {
        j->id = json_deep_copy(id);
        j->id_key = hml_strdup(key);
        j->tool = hml_strdup(name);
        j->args = args && !json_is_null(args) ? json_deep_copy(args) : NULL;
        j->progress_token = json_is_string(token) || json_is_integer(token) ? json_deep_copy(token) : NULL;
        snprintf(j->caller, sizeof j->caller, "%s", s->caller);
    }
    if (!j || !j->id || !j->id_key || !j->tool) {
        job_free(j);
        mcp_send_error(id, RPC_INTERNAL_ERROR, "out of memory queueing the call", NULL);
        return;
    }
    pthread_mutex_lock(&s->mu);
    bool full = s->jobs_n >= MCP_JOBS_MAX;
    if (!full) {
        if (s->jobs_tail) s->jobs_tail->next = j;
        else s->jobs_head = j;
        s->jobs_tail = j;
        s->jobs_n++;
        pthread_cond_signal(&s->worker_cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (full) {
        job_free(j);
        mcp_send_error(id, RPC_SERVER_BUSY, "too many tool calls are waiting; wait for answers before sending more",
                       json_pack("{s:i}", "queued_max", MCP_JOBS_MAX));
    }
}

static void m_logging_set_level(struct server *s, const json_t *id, const json_t *params)
{
    const char *level = hml_json_str(params, "level", "");
    for (int i = 0; i < (int)(sizeof log_levels / sizeof *log_levels); i++)
        if (!strcmp(level, log_levels[i])) {
            s->log_level = i;
            mcp_send_result(id, json_object());
            return;
        }
    struct mcp_fail f = {0};
    mcp_fail_choices(&f, "log level", level, log_levels, sizeof log_levels / sizeof *log_levels);
    send_fail(id, &f);
}

static void with_fail(const json_t *id, json_t *result, struct mcp_fail *f)
{
    if (result) mcp_send_result(id, result);
    else send_fail(id, f);
}

static const char *const methods[] = {"initialize", "ping", "tools/list", "tools/call", "prompts/list",
                                      "prompts/get", "resources/list", "resources/read",
                                      "resources/templates/list", "logging/setLevel"};

static void request(struct server *s, const json_t *id, const char *key, const char *method, const json_t *params)
{
    struct mcp_fail f = {0};
    if (!strcmp(method, "initialize")) m_initialize(s, id, params);
    else if (!strcmp(method, "ping")) mcp_send_result(id, json_object());
    else if (!strcmp(method, "tools/list")) m_tools_list(s, id);
    else if (!strcmp(method, "tools/call")) m_tools_call(s, id, key, params);
    else if (!strcmp(method, "prompts/list")) mcp_send_result(id, mcp_prompts_list());
    else if (!strcmp(method, "prompts/get")) with_fail(id, mcp_prompts_get(params, &f), &f);
    else if (!strcmp(method, "resources/list")) mcp_send_result(id, mcp_resources_list(s->project_dir));
    else if (!strcmp(method, "resources/templates/list")) mcp_send_result(id, mcp_resource_templates_list());
    else if (!strcmp(method, "resources/read")) with_fail(id, mcp_resources_read(s->project_dir, params, &f), &f);
    else if (!strcmp(method, "logging/setLevel")) m_logging_set_level(s, id, params);
    else {
        mcp_fail_choices(&f, "method", method, methods, sizeof methods / sizeof *methods);
        f.code = RPC_METHOD_NOT_FOUND;
        send_fail(id, &f);
    }
}

static void cancel_request(struct server *s, const json_t *params)
{
    const json_t *rid = json_object_get(params, "requestId");
    if (!rid) return;
    char *key = id_key(rid);
    if (!key) return;
    struct job *dropped = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->running && !strcmp(s->running->id_key, key)) {
        s->running->cancel = 1;
        s->running->cancelled = true;
    }
    for (struct job **pp = &s->jobs_head; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->id_key, key)) {
            dropped = *pp;
            *pp = dropped->next;
            if (s->jobs_tail == dropped) {
                s->jobs_tail = NULL;
                for (struct job *t = s->jobs_head; t; t = t->next) s->jobs_tail = t;
            }
            s->jobs_n--;
            break;
        }
    pthread_mutex_unlock(&s->mu);
    job_free(dropped);
    hml_free(key);
}

static void notification(struct server *s, const char *method, const json_t *params)
{
    if (!strcmp(method, "notifications/initialized")) s->initialized = true;
    else if (!strcmp(method, "notifications/cancelled")) cancel_request(s, params);
    /* Anything else (progress, roots/list_changed, unknown) needs no answer and gets none. */
    else hml_log_debug("mcp: notification '%s' ignored", method);
}

/* ---- one message -------------------------------------------------------------------------------------- */

static bool valid_id(const json_t *id)
{
    return json_is_string(id) || json_is_integer(id);
}

static void message(struct server *s, json_t *msg)
{
    if (json_is_array(msg)) {
        mcp_send_error(NULL, RPC_INVALID_REQUEST,
                       "batches are not supported: send one JSON-RPC message per line", NULL);
        return;
    }
    if (!json_is_object(msg)) {
        mcp_send_error(NULL, RPC_INVALID_REQUEST, "a JSON-RPC message must be a JSON object", NULL);
        return;
    }
    const json_t *id = json_object_get(msg, "id");
    const json_t *method = json_object_get(msg, "method");
    const json_t *params = json_object_get(msg, "params");
    const char *version = hml_json_str(msg, "jsonrpc", NULL);
    if (id && !valid_id(id)) {
        mcp_send_error(NULL, RPC_INVALID_REQUEST, "'id' must be a string or an integer", NULL);
        return;
    }
    if (!version || strcmp(version, "2.0")) {
        mcp_send_error(id, RPC_INVALID_REQUEST, "'jsonrpc' must be \"2.0\"", NULL);
        return;
    }
    if (!method && (json_object_get(msg, "result") || json_object_get(msg, "error"))) {
        hml_log_debug("mcp: a response from the client was ignored (this server sends no requests)");
        return;
    }
    if (!json_is_string(method)) {
        if (id) mcp_send_error(id, RPC_INVALID_REQUEST, "'method' must be a string", NULL);
        else mcp_send_error(NULL, RPC_INVALID_REQUEST, "a message needs 'method' (and 'id' for a request)", NULL);
        return;
    }
    if (!id) {
        if (!params || json_is_object(params)) notification(s, json_string_value(method), params);
        return;
    }
    char *key = id_key(id);
    if (!key) {
        mcp_send_error(id, RPC_INTERNAL_ERROR, "out of memory", NULL);
        return;
    }
    if (id_seen(s, key)) {
        char m[200];
        snprintf(m, sizeof m, "duplicate id %.120s: this session already used it; use a new id per request", key);
        mcp_send_error(id, RPC_INVALID_REQUEST, m, NULL);
    } else if (params && !json_is_object(params)) {
        id_remember(s, key);
        fail_params(id, "'params' must be an object");
    } else {
        id_remember(s, key);
        request(s, id, key, json_string_value(method), params);
    }
    hml_free(key);
}

static void one_line(struct server *s, struct mcp_line *l)
{
    char m[256];
    if (l->too_long) {
        json_t *id = mcp_scan_id(l->p ? l->p : "", l->n);
        snprintf(m, sizeof m, "message too large: %zu bytes; the limit is %zu bytes", l->too_long, s->opt->line_max);
        mcp_send_error(id, RPC_INVALID_REQUEST, m,
                       json_pack("{s:I,s:s}", "limit", (json_int_t)s->opt->line_max, "hint",
                                 "send smaller messages (pass large data as a file path), or start the "
                                 "server with --max-line-bytes N"));
        json_decref(id);
        return;
    }
    size_t n = l->n;
    while (n && strchr(" \t\r", l->p[n - 1])) n--; /* CRLF clients and trailing blanks */
    if (!n) return;
    size_t bad;
    if (!mcp_utf8_valid(l->p, n, &bad)) {
        json_t *id = mcp_scan_id(l->p, bad);
        snprintf(m, sizeof m, "parse error: invalid UTF-8 at byte %zu; messages must be UTF-8", bad);
        mcp_send_error(id, RPC_PARSE_ERROR, m, NULL);
        json_decref(id);
        return;
    }
    json_t *msg;
    struct hml_error err;
    if (hml_json_parse(l->p, n, &msg, &err)) {
        json_t *id = mcp_scan_id(l->p, n);
        snprintf(m, sizeof m, "parse error: %s", err.message);
        mcp_send_error(id, RPC_PARSE_ERROR, m, NULL);
        json_decref(id);
        return;
    }
    message(s, msg);
    json_decref(msg);
}

/* ---- the loop ---------------------------------------------------------------------------------------- */

/* Next line, or NULL on EOF or (with hot reload) after a quiet interval. */
static struct mcp_line *next_line(struct server *s, bool *eof)
{
    pthread_mutex_lock(&s->mu);
    while (!s->in.head && !s->in.eof) {
        if (!s->reload) {
            pthread_cond_wait(&s->main_cv, &s->mu);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(RELOAD_INTERVAL_S * 1e9);
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        if (pthread_cond_timedwait(&s->main_cv, &s->mu, &ts) == ETIMEDOUT) break;
    }
    struct mcp_line *l = s->in.head;
    if (l) {
        s->in.head = l->next;
        if (!s->in.head) s->in.tail = NULL;
        s->in.bytes -= l->n;
        pthread_cond_signal(&s->in.space);
    }
    *eof = !l && s->in.eof;
    pthread_mutex_unlock(&s->mu);
    return l;
}

static void serve_loop(struct server *s)
{
    for (;;) {
        bool eof;
        struct mcp_line *l = next_line(s, &eof);
        if (l) {
            one_line(s, l);
            mcp_line_free(l);
        } else if (eof) {
            break;
        } else {
            maybe_reload(s, false);
        }
        if (mcp_out_broken()) break;
    }
}

static char *absolute_dir(const char *dir)
{
    char cwd[PATH_MAX], real[PATH_MAX];
    if (!dir || !*dir) dir = getcwd(cwd, sizeof cwd) ? cwd : ".";
    if (realpath(dir, real)) return hml_strdup(real);
    return hml_strdup(dir);
}

static void server_fini(struct server *s, pthread_t reader, bool reader_done)
{
    pthread_mutex_lock(&s->mu);
    s->in.closing = true;
    while (s->in.head) {
        struct mcp_line *l = s->in.head;
        s->in.head = l->next;
        mcp_line_free(l);
    }
    s->in.tail = NULL;
    pthread_cond_broadcast(&s->in.space);
    pthread_mutex_unlock(&s->mu);
    if (reader_done) pthread_join(reader, NULL);
    else pthread_detach(reader); /* blocked in read() on a client that stopped reading */
    for (size_t i = 0; i < MCP_RECENT_IDS; i++) hml_free(s->recent_ids[i]);
    hml_free(s->tools_cache);
    hml_free(s->reload_note);
    hml_free(s->project_dir);
    mcp_reload_free(s->reload);
    hml_events_close(s->events);
}

/* The server lives in static storage: a reader thread left blocked on a silent client may
 * still touch its mutex while the process exits. */
static struct server the_server = {
    .mu = PTHREAD_MUTEX_INITIALIZER, .main_cv = PTHREAD_COND_INITIALIZER,
    .worker_cv = PTHREAD_COND_INITIALIZER, .in = {.space = PTHREAD_COND_INITIALIZER},
};

int mcp_serve(const struct mcp_options *opt, int in_fd, int out_fd)
{
    struct server *s = &the_server;
    s->opt = opt;
    s->in.mu = &s->mu;
    s->in.wake = &s->main_cv;
    s->in.fd = in_fd;
    s->in.line_max = opt->line_max;
    s->log_level = LOG_WARNING;
    snprintf(s->caller, sizeof s->caller, "mcp:unknown");
    s->project_dir = absolute_dir(opt->project_dir);
    mcp_out_init(out_fd);
    if (opt->hot_reload) {
        char *dir = opt->module_dir ? hml_strdup(opt->module_dir) : mcp_reload_default_dir();
        s->reload = dir ? mcp_reload_new(dir) : NULL;
        hml_free(dir);
        if (s->reload) reload_now(s);
    }
    pthread_t reader, worker;
    if (pthread_create(&worker, NULL, worker_main, s)) {
        hml_log_error("mcp: cannot start the worker thread");
        return 1;
    }
    if (pthread_create(&reader, NULL, mcp_reader_main, &s->in)) {
        hml_log_error("mcp: cannot start the reader thread");
        return 1;
    }
    serve_loop(s);
    /* EOF: finish every call already received, then stop. */
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    bool reader_done = s->in.eof;
    pthread_cond_signal(&s->worker_cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(worker, NULL);
    server_fini(s, reader, reader_done);
    return 0;
}
