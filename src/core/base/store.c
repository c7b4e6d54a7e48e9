/* store.c — .harness/store.db: open, migrate, transactions, ingest records.
 *
 * Migrations are append-only: version N is migrations[N-1]. Each runs in its own
 * IMMEDIATE transaction that re-reads user_version first, so two processes opening
 * a fresh store at once apply each migration exactly once.
 * NOTE: a new table or column is a new migration at the end; never edit an old one.
 */
#include "harness/store.h"
#include "harness/alloc.h"
#include "harness/fsx.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

struct hml_store {
    sqlite3 *db;
    int version;
    char *path;
};

static const char *const migrations[] = {
    /* 1: the initial schema. */
    "CREATE TABLE ingests ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  path TEXT,"
    "  format TEXT,"
    "  rows INTEGER NOT NULL,"
    "  cols INTEGER NOT NULL,"
    "  sha256 TEXT,"
    "  at TEXT NOT NULL);"
    "CREATE INDEX ingests_name ON ingests(name);"
    "CREATE TABLE runs ("
    "  run_id TEXT PRIMARY KEY,"
    "  created_at TEXT NOT NULL,"
    "  experiment_id TEXT,"
    "  config_hash TEXT,"
    "  status TEXT NOT NULL,"
    "  primary_metric TEXT,"
    "  value REAL,"
    "  duration_s REAL);"
    "CREATE TABLE run_metrics ("
    "  run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"
    "  scope TEXT NOT NULL,"
    "  metric TEXT NOT NULL,"
    "  value REAL,"
    "  PRIMARY KEY (run_id, scope, metric));"
    "CREATE TABLE cache_entries ("
    "  key TEXT PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  path TEXT NOT NULL,"
    "  bytes INTEGER NOT NULL,"
    "  created_at TEXT NOT NULL,"
    "  last_used_at TEXT NOT NULL);"
    "CREATE INDEX cache_entries_lru ON cache_entries(kind, last_used_at);"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);",
    /* 2: every guardrail or gate that refused, warned or was overridden. */
    "CREATE TABLE guard_audit ("
    "  id INTEGER PRIMARY KEY,"
    "  at TEXT NOT NULL,"
    "  tool TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  guardrail TEXT NOT NULL,"
    "  outcome TEXT NOT NULL CHECK (outcome IN ('refused', 'warned', 'overridden')),"
    "  overridden INTEGER NOT NULL,"
    "  subject TEXT,"
    "  message TEXT NOT NULL);"
    "CREATE INDEX guard_audit_at ON guard_audit(at);",
};

#define VERSION_CURRENT ((int)(sizeof migrations / sizeof *migrations))

static enum hml_status db_fail(sqlite3 *db, const char *path, const char *what,
                               struct hml_error *err)
{
    int code = db ? sqlite3_errcode(db) : SQLITE_NOMEM;
    if (code == SQLITE_NOMEM) return hml_fail(err, HML_ENOMEM, "store", "out of memory (%s)", what);
    hml_fail(err, HML_EIO, "store", "cannot %s '%s': %s", what, path,
             db ? sqlite3_errmsg(db) : "unknown error");
    switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return hml_hint(err, "another harness process holds the store; wait for it to finish and retry");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return hml_hint(err, "the store is damaged; move .harness/store.db aside and retry "
                             "(run history in it will be lost)");
    case SQLITE_FULL: return hml_hint(err, "the disk is full; free some space and retry");
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        return hml_hint(err, "check that .harness/ and store.db exist and are writable");
    default: return hml_hint(err, "check that .harness/store.db is a harness store and writable");
    }
}

static enum hml_status exec(struct hml_store *st, const char *sql, const char *what,
                            struct hml_error *err)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK) return HML_OK;
    return db_fail(st->db, st->path, what, err);
}

static enum hml_status read_version(struct hml_store *st, int *out, struct hml_error *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        enum hml_status rc = db_fail(st->db, st->path, "read the schema version of", err);
        sqlite3_finalize(s);
        return rc;
    }
    *out = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return HML_OK;
}

static enum hml_status too_new(struct hml_store *st, int v, struct hml_error *err)
{
    hml_fail(err, HML_ECONFLICT, "store",
             "store '%s' has schema version %d, newer than this harness knows (%d)", st->path, v,
             VERSION_CURRENT);
    return hml_hint(err, "upgrade harness to the version that last wrote this project");
}

static enum hml_status migrate_one(struct hml_store *st, int to, struct hml_error *err)
{
    enum hml_status rc = exec(st, "BEGIN IMMEDIATE", "lock", err);
    if (rc) return rc;
    int v;
    if ((rc = read_version(st, &v, err))) goto fail;
    if (v >= to) return exec(st, "COMMIT", "migrate", err); /* someone else got there first */
    char set[64];
    snprintf(set, sizeof set, "PRAGMA user_version = %d", to);
    if ((rc = exec(st, migrations[to - 1], "migrate", err)) || (rc = exec(st, set, "migrate", err)) ||
        (rc = exec(st, "COMMIT", "migrate", err)))
        goto fail;
    return HML_OK;
fail:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static enum hml_status migrate(struct hml_store *st, struct hml_error *err)
{
    int v;
    enum hml_status rc = read_version(st, &v, err);
    if (rc) return rc;
    if (v > VERSION_CURRENT) return too_new(st, v, err);
    for (int to = v + 1; to <= VERSION_CURRENT; to++)
        if ((rc = migrate_one(st, to, err))) return rc;
    if ((rc = read_version(st, &st->version, err))) return rc;
    return st->version > VERSION_CURRENT ? too_new(st, st->version, err) : HML_OK;
}

static enum hml_status open_db(struct hml_store *st, struct hml_error *err)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(st->path, &st->db, flags, NULL) != SQLITE_OK)
        return db_fail(st->db, st->path, "open", err);
    sqlite3_busy_timeout(st->db, 5000);
    sqlite3_extended_result_codes(st->db, 1);
    /* WAL lets readers (the dashboard) run beside a writer; NORMAL sync is safe with WAL. */
    enum hml_status rc = exec(st, "PRAGMA journal_mode = WAL", "open", err);
    if (!rc) rc = exec(st, "PRAGMA synchronous = NORMAL", "open", err);
    if (!rc) rc = exec(st, "PRAGMA foreign_keys = ON", "open", err);
    return rc;
}

enum hml_status hml_store_open(const char *project_dir, struct hml_store **out,
                               struct hml_error *err)
{
    HML_ASSERT(project_dir != NULL);
    HML_ASSERT(out != NULL);
    if (!hml_is_dir(project_dir)) {
        hml_fail(err, HML_ENOTFOUND, "store", "no Harness project at '%s'", project_dir);
        return hml_hint(err, "run `configure init` first, or pass project_dir");
    }
    struct hml_store *st = hml_calloc(1, sizeof *st);
    char *dir = hml_path_join(project_dir, ".harness");
    if (st) st->path = dir ? hml_path_join(dir, "store.db") : NULL;
    enum hml_status rc = st && st->path ? HML_OK : hml_fail(err, HML_ENOMEM, "store", "out of memory");
    if (!rc) rc = hml_mkdirs(dir, err);
    hml_free(dir);
    if (!rc) rc = open_db(st, err);
    if (!rc) rc = migrate(st, err);
    if (rc) {
        hml_store_close(st);
        return rc;
    }
    *out = st;
    return HML_OK;
}

void hml_store_close(struct hml_store *st)
{
    if (!st) return;
    sqlite3_close_v2(st->db);
    hml_free(st->path);
    hml_free(st);
}

int hml_store_version(const struct hml_store *st) { return st->version; }

sqlite3 *hml_store_db(struct hml_store *st) { return st->db; }

/* IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout
 * instead of one failing later when its read lock cannot be upgraded. */
enum hml_status hml_store_begin(struct hml_store *st, struct hml_error *err)
{
    return exec(st, "BEGIN IMMEDIATE", "begin a transaction on", err);
}

enum hml_status hml_store_commit(struct hml_store *st, struct hml_error *err)
{
    return exec(st, "COMMIT", "commit to", err);
}

void hml_store_rollback(struct hml_store *st)
{
    if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

enum hml_status hml_store_exec(struct hml_store *st, const char *sql, struct hml_error *err)
{
    return exec(st, sql, "run SQL on", err);
}

enum hml_status hml_store_record_ingest(struct hml_store *st, const char *name, const char *path,
                                        const char *format, int64_t rows, int64_t cols,
                                        const char *sha256, struct hml_error *err)
{
    HML_ASSERT(name != NULL);
    HML_ASSERT(rows >= 0 && cols >= 0);
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v2(st->db,
                               "INSERT INTO ingests(name, path, format, rows, cols, sha256, at) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?)", -1, &s, NULL);
    if (r == SQLITE_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, path, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, format, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 4, rows);
        sqlite3_bind_int64(s, 5, cols);
        sqlite3_bind_text(s, 6, sha256, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 7, now, -1, SQLITE_TRANSIENT);
        r = sqlite3_step(s);
    }
    enum hml_status rc = r == SQLITE_DONE ? HML_OK : db_fail(st->db, st->path, "record an ingest in", err);
    sqlite3_finalize(s);
    return rc;
}

enum hml_status hml_store_record_guard(struct hml_store *st, const struct hml_guard_event *e,
                                       struct hml_error *err)
{
    HML_ASSERT(e && e->tool && e->action && e->guardrail && e->outcome && e->message);
    char now[32];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    size_t n = strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%S", gmtime_r(&ts.tv_sec, &tm));
    snprintf(now + n, sizeof now - n, ".%03ldZ", ts.tv_nsec / 1000000);
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v2(st->db,
                               "INSERT INTO guard_audit(at, tool, action, guardrail, outcome, overridden, subject, message) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", -1, &s, NULL);
    if (r == SQLITE_OK) {
        sqlite3_bind_text(s, 1, now, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, e->tool, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, e->action, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 4, e->guardrail, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 5, e->outcome, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(s, 6, !strcmp(e->outcome, "overridden"));
        sqlite3_bind_text(s, 7, e->subject, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 8, e->message, -1, SQLITE_TRANSIENT);
        r = sqlite3_step(s);
    }
    enum hml_status rc = r == SQLITE_DONE ? HML_OK : db_fail(st->db, st->path, "record a guardrail event in", err);
    sqlite3_finalize(s);
    return rc;
}
