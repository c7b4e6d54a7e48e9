/* events.c — the Studio event log ($HARNESS_HOME/events.db): append-only rows per tool call.
 *
 * Failure policy (events.h): a failed write is counted and, when it is the first after a
 * success, logged as one line; the caller never sees it. SQLite's busy timeout is short
 * because a tool call must not wait on Studio or on another process's write.
 * NOTE: a new column is a new migration at the end of migrations[]; never edit an old one.
 */
#include "harness/events.h"
#include "harness/alloc.h"
#include "harness/fsx.h"
#include "harness/log.h"

#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 250
#define HINT "set HARNESS_HOME to a writable directory (tool calls work without the log)"

struct hml_events {
    pthread_mutex_t mu;
    sqlite3 *db;
    sqlite3_stmt *ins;
    char *path;
    unsigned long failures;
    bool failing; /* the last write failed: stay quiet until one succeeds */
};

static const char *const migrations[] = {
    /* 1: the initial schema. */
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY,"
    "  call_id TEXT NOT NULL,"
    "  ts REAL NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('running','progress','success','error')),"
    "  tool TEXT, action TEXT, project TEXT, caller TEXT, pid INTEGER,"
    "  args TEXT, progress REAL, total REAL, message TEXT,"
    "  duration_ms REAL, error_code TEXT, result TEXT);"
    "CREATE INDEX events_call ON events(call_id);"
    "CREATE INDEX events_project_ts ON events(project, ts);",
};
#define VERSION_CURRENT ((int)(sizeof migrations / sizeof *migrations))

static const char insert_sql[] =
    "INSERT INTO events (call_id, ts, kind, tool, action, project, caller, pid, args, progress,"
    " total, message, duration_ms, error_code, result) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

size_t hml_utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max) return len;
    size_t n = max;
    /* Back off over continuation bytes (10xxxxxx) so the cut lands before a lead byte. */
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    return n;
}

char *hml_events_default_path(void)
{
    const char *home = getenv("HARNESS_HOME");
    if (home && *home) return hml_path_join(home, "events.db");
    home = getenv("HOME");
    if (!home || !*home) return NULL;
    char *dir = hml_path_join(home, ".harness");
    char *path = dir ? hml_path_join(dir, "events.db") : NULL;
    hml_free(dir);
    return path;
}

static enum hml_status db_fail(sqlite3 *db, const char *path, const char *what, struct hml_error *err)
{
    hml_fail(err, HML_EIO, "events", "cannot %s event log '%s': %s", what, path,
             db ? sqlite3_errmsg(db) : "out of memory");
    return hml_hint(err, "%s", HINT);
}

static enum hml_status migrate(struct hml_events *ev, struct hml_error *err)
{
    if (sqlite3_exec(ev->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(ev->db, ev->path, "lock", err);
    sqlite3_stmt *s = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(ev->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    enum hml_status rc = v < 0 ? db_fail(ev->db, ev->path, "read", err) : HML_OK;
    /* A newer schema only ever adds columns, so writing the ones we know stays valid. */
    for (; !rc && v < VERSION_CURRENT; v++) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(ev->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(ev->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            rc = db_fail(ev->db, ev->path, "create", err);
    }
    if (!rc && sqlite3_exec(ev->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = db_fail(ev->db, ev->path, "write", err);
    if (rc) sqlite3_exec(ev->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static enum hml_status make_parent(const char *path, struct hml_error *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return HML_OK;
    char *dir = hml_strndup(path, (size_t)(slash - path));
    if (!dir) return hml_fail(err, HML_ENOMEM, "events", "out of memory");
    enum hml_status rc = hml_mkdirs(dir, err);
    hml_free(dir);
    return rc;
}

enum hml_status hml_events_open(const char *path, struct hml_events **out, struct hml_error *err)
{
    *out = NULL;
    enum hml_status rc = make_parent(path, err);
    if (rc) return rc == HML_ENOMEM ? rc : hml_hint(err, "%s", HINT);
    struct hml_events *ev = hml_calloc(1, sizeof *ev);
    if (!ev || !(ev->path = hml_strdup(path))) {
        hml_free(ev);
        return hml_fail(err, HML_ENOMEM, "events", "out of memory");
    }
    pthread_mutex_init(&ev->mu, NULL);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path, &ev->db, flags, NULL) != SQLITE_OK) {
        rc = db_fail(ev->db, path, "open", err);
    } else {
        sqlite3_busy_timeout(ev->db, BUSY_TIMEOUT_MS);
        /* WAL lets Studio read while servers write; NORMAL skips an fsync per row, which a
         * log that may lose its last rows in a power cut can afford. */
        if (sqlite3_exec(ev->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", NULL, NULL, NULL) !=
            SQLITE_OK)
            rc = db_fail(ev->db, path, "open", err);
        if (!rc) rc = migrate(ev, err);
        if (!rc && sqlite3_prepare_v2(ev->db, insert_sql, -1, &ev->ins, NULL) != SQLITE_OK)
            rc = db_fail(ev->db, path, "prepare", err);
    }
    if (rc) {
        hml_events_close(ev);
        return rc;
    }
    *out = ev;
    return HML_OK;
}

struct hml_events *hml_events_open_default(void)
{
    char *path = hml_events_default_path();
    if (!path) {
        hml_log_warn("event log off: neither HARNESS_HOME nor HOME is set (tool calls are unaffected)");
        return NULL;
    }
    struct hml_events *ev = NULL;
    struct hml_error err;
    hml_error_clear(&err);
    if (hml_events_open(path, &ev, &err))
        hml_log_warn("event log off: %s (tool calls are unaffected; %s)", err.message, err.hint);
    hml_free(path);
    return ev;
}

void hml_events_close(struct hml_events *ev)
{
    if (!ev) return;
    sqlite3_finalize(ev->ins);
    sqlite3_close(ev->db);
    pthread_mutex_destroy(&ev->mu);
    hml_free(ev->path);
    hml_free(ev);
}

unsigned long hml_events_failures(const struct hml_events *ev)
{
    return ev ? ev->failures : 0;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One row's optional columns. */
struct row {
    const char *kind;
    const char *args;
    double progress, total; /* NaN: NULL */
    const char *message;
    double duration_ms;     /* NaN: NULL */
    const char *error_code;
    const char *result;
};

static void bind_text(sqlite3_stmt *s, int i, const char *v, size_t max)
{
    if (!v || !*v) {
        sqlite3_bind_null(s, i);
        return;
    }
    size_t n = hml_utf8_cut(v, strlen(v), max);
    sqlite3_bind_text(s, i, v, (int)n, SQLITE_TRANSIENT);
}

static void bind_real(sqlite3_stmt *s, int i, double v)
{
    if (v != v) sqlite3_bind_null(s, i);
    else sqlite3_bind_double(s, i, v);
}

static enum hml_status append(struct hml_events *ev, const struct hml_event_call *c, const struct row *r)
{
    if (!ev) return HML_OK;
    pthread_mutex_lock(&ev->mu);
    sqlite3_stmt *s = ev->ins;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    bind_text(s, 1, c->id, sizeof c->id);
    sqlite3_bind_double(s, 2, now_unix());
    bind_text(s, 3, r->kind, 16);
    bind_text(s, 4, c->tool, sizeof c->tool);
    bind_text(s, 5, c->action, sizeof c->action);
    bind_text(s, 6, c->project, sizeof c->project);
    bind_text(s, 7, c->caller, sizeof c->caller);
    sqlite3_bind_int64(s, 8, (sqlite3_int64)getpid());
    bind_text(s, 9, r->args, HML_EVENTS_ARGS_MAX);
    bind_real(s, 10, r->progress);
    bind_real(s, 11, r->total);
    bind_text(s, 12, r->message, 512);
    bind_real(s, 13, r->duration_ms);
    bind_text(s, 14, r->error_code, 32);
    bind_text(s, 15, r->result, HML_EVENTS_RESULT_MAX);
    int sc = sqlite3_step(s);
    sqlite3_reset(s);
    enum hml_status rc = HML_OK;
    if (sc != SQLITE_DONE) {
        rc = HML_EIO;
        ev->failures++;
        if (!ev->failing)
            hml_log_warn("event log '%s': cannot write: %s (tool calls are unaffected)", ev->path,
                         sqlite3_errmsg(ev->db));
        ev->failing = true;
    } else {
        ev->failing = false;
    }
    pthread_mutex_unlock(&ev->mu);
    return rc;
}

static void copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = src ? hml_utf8_cut(src, strlen(src), cap - 1) : 0;
    if (n) memcpy(dst, src, n);
    dst[n] = 0;
}

enum hml_status hml_events_begin(struct hml_events *ev, struct hml_event_call *call, const char *tool,
                                 const char *action, const char *project, const char *caller,
                                 const json_t *args)
{
    static atomic_ulong counter;
    memset(call, 0, sizeof *call);
    call->t0 = now_mono();
    snprintf(call->id, sizeof call->id, "%ld-%lu-%.0f", (long)getpid(), atomic_fetch_add(&counter, 1) + 1,
             now_unix() * 1000.0);
    copy_field(call->tool, sizeof call->tool, tool);
    copy_field(call->action, sizeof call->action, action);
    copy_field(call->caller, sizeof call->caller, caller);
    copy_field(call->project, sizeof call->project, project);
    if (!ev) return HML_OK;
    char *a = args ? json_dumps(args, JSON_COMPACT) : NULL;
    struct row r = {.kind = "running", .args = a, .progress = NAN, .total = NAN, .duration_ms = NAN};
    enum hml_status rc = append(ev, call, &r);
    hml_free(a);
    return rc;
}

enum hml_status hml_events_progress(struct hml_events *ev, const struct hml_event_call *call,
                                    double done, double total, const char *message)
{
    struct row r = {.kind = "progress", .progress = done, .total = total > 0 ? total : NAN,
                    .message = message, .duration_ms = NAN};
    return append(ev, call, &r);
}

enum hml_status hml_events_end(struct hml_events *ev, const struct hml_event_call *call,
                               const char *error_code, const char *result_text)
{
    struct row r = {.kind = error_code ? "error" : "success", .progress = NAN, .total = NAN,
                    .duration_ms = (now_mono() - call->t0) * 1000.0, .error_code = error_code,
                    .result = result_text};
    return append(ev, call, &r);
}
