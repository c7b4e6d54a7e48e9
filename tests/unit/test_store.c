/* Unit tests for the metadata store: creation, migration, reopening, refusal of newer stores. */
#include "t.h"

#include <sys/stat.h>

#include "harness/alloc.h"
#include "harness/fsx.h"
#include "harness/store.h"

static char *db_path(void)
{
    static char p[600];
    snprintf(p, sizeof p, "%s/.harness/store.db", t_tmpdir());
    return p;
}

static int count_rows(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return n;
}

TEST(store_open_creates_db_at_current_version)
{
    struct hml_error err;
    struct hml_store *st = NULL;
    T_OK(!hml_path_exists(db_path()));
    T_RC(hml_store_open(t_tmpdir(), &st, &err), &err);
    T_OK(hml_path_exists(db_path()));
    T_EQ(hml_store_version(st), 2);
    sqlite3 *db = hml_store_db(st);
    T_EQ(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                        "('ingests', 'runs', 'run_metrics', 'cache_entries', 'meta', 'guard_audit')"), 6);
    T_EQ(count_rows(db, "PRAGMA foreign_keys"), 1);
    sqlite3_stmt *s = NULL;
    T_OK(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL) == SQLITE_OK);
    T_OK(sqlite3_step(s) == SQLITE_ROW);
    T_STREQ((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    hml_store_close(st);
}

TEST(store_reopen_is_idempotent_and_keeps_rows)
{
    struct hml_error err;
    struct hml_store *st = NULL;
    T_RC(hml_store_open(t_tmpdir(), &st, &err), &err);
    T_RC(hml_store_record_ingest(st, "games", "data/raw/games.csv", "csv", 120, 7,
                                 "ab12", &err), &err);
    hml_store_close(st);
    for (int i = 0; i < 3; i++) {
        T_RC(hml_store_open(t_tmpdir(), &st, &err), &err);
        T_EQ(hml_store_version(st), 2);
        hml_store_close(st);
    }
    T_RC(hml_store_open(t_tmpdir(), &st, &err), &err);
    sqlite3_stmt *s = NULL;
    T_OK(sqlite3_prepare_v2(hml_store_db(st), "SELECT name, path, format, rows, cols, sha256, at "
                            "FROM ingests", -1, &s, NULL) == SQLITE_OK);
    T_OK(sqlite3_step(s) == SQLITE_ROW);
    T_STREQ((const char *)sqlite3_column_text(s, 0), "games");
    T_STREQ((const char *)sqlite3_column_text(s, 1), "data/raw/games.csv");
    T_STREQ((const char *)sqlite3_column_text(s, 2), "csv");
    T_EQ(sqlite3_column_int64(s, 3), 120);
    T_EQ(sqlite3_column_int64(s, 4), 7);
    T_STREQ((const char *)sqlite3_column_text(s, 5), "ab12");
    T_EQ(strlen((const char *)sqlite3_column_text(s, 6)), 20);
    T_OK(sqlite3_step(s) == SQLITE_DONE);
    sqlite3_finalize(s);
    hml_store_close(st);
}

TEST(store_transactions_and_foreign_keys)
{
    struct hml_error err;
    struct hml_store *st = NULL;
    T_RC(hml_store_open(t_tmpdir(), &st, &err), &err);
    T_RC(hml_store_begin(st, &err), &err);
    T_RC(hml_store_exec(st, "INSERT INTO runs(run_id, created_at, status) VALUES ('r1', 'now', 'done')",
                        &err), &err);
    hml_store_rollback(st);
    T_EQ(count_rows(hml_store_db(st), "SELECT count(*) FROM runs"), 0);
    T_RC(hml_store_begin(st, &err), &err);
    T_RC(hml_store_exec(st, "INSERT INTO runs(run_id, created_at, status) VALUES ('r1', 'now', 'done');"
                        "INSERT INTO run_metrics VALUES ('r1', 'pooled', 'brier', 0.2)", &err), &err);
    T_RC(hml_store_commit(st, &err), &err);
    T_EQ(count_rows(hml_store_db(st), "SELECT count(*) FROM run_metrics"), 1);
    /* A metric of an unknown run violates the foreign key. */
    hml_error_clear(&err);
    T_EQ(hml_store_exec(st, "INSERT INTO run_metrics VALUES ('nope', 'pooled', 'brier', 0.2)", &err),
         HML_EIO);
    T_CONTAINS(err.message, "FOREIGN KEY");
    T_OK(err.hint[0] != 0);
    T_EQ(hml_store_exec(st, "SELEC 1", &err), HML_EIO);
    T_CONTAINS(err.message, "syntax error");
    hml_store_rollback(st); /* outside a transaction: harmless */
    hml_store_close(st);
}

/* A store written by a harness that knew only migration 1 gains guard_audit and keeps its rows. */
TEST(store_migrates_version_1_to_2_and_records_guard_events)
{
    struct hml_error err;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/.harness", t_tmpdir());
    T_RC(hml_mkdirs(dir, &err), &err);
    sqlite3 *db = NULL;
    T_OK(sqlite3_open(db_path(), &db) == SQLITE_OK);
    T_OK(sqlite3_exec(db, "CREATE TABLE ingests (id INTEGER PRIMARY KEY, name TEXT NOT NULL, path TEXT, format TEXT,"
                          " rows INTEGER NOT NULL, cols INTEGER NOT NULL, sha256 TEXT, at TEXT NOT NULL);"
                          "INSERT INTO ingests(name, rows, cols, at) VALUES ('old', 1, 2, 'then');"
                          "PRAGMA user_version = 1", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    struct hml_store *st = NULL;
    T_RC(hml_store_open(t_tmpdir(), &st, &err), &err);
    T_EQ(hml_store_version(st), 2);
    T_EQ(count_rows(hml_store_db(st), "SELECT count(*) FROM ingests WHERE name = 'old'"), 1);
    struct hml_guard_event e = {.tool = "experiments", .action = "promote", .guardrail = "suspicious_improvement",
                                .outcome = "overridden", .subject = "exp-002", .message = "brier improved by 0.2"};
    T_RC(hml_store_record_guard(st, &e, &err), &err);
    e.outcome = "refused";
    e.subject = NULL;
    T_RC(hml_store_record_guard(st, &e, &err), &err);
    T_EQ(count_rows(hml_store_db(st), "SELECT count(*) FROM guard_audit WHERE overridden = 1 AND subject = 'exp-002'"
                                      " AND outcome = 'overridden' AND length(at) = 24"), 1);
    T_EQ(count_rows(hml_store_db(st), "SELECT count(*) FROM guard_audit WHERE overridden = 0 AND subject IS NULL"), 1);
    e.outcome = "maybe"; /* the table accepts only the three outcomes */
    hml_error_clear(&err);
    T_EQ(hml_store_record_guard(st, &e, &err), HML_EIO);
    T_CONTAINS(err.message, "CHECK");
    hml_store_close(st);
}

TEST(store_refuses_newer_schema)
{
    struct hml_error err;
    struct hml_store *st = NULL;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/.harness", t_tmpdir());
    T_RC(hml_mkdirs(dir, &err), &err);
    sqlite3 *db = NULL;
    T_OK(sqlite3_open(db_path(), &db) == SQLITE_OK);
    T_OK(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    hml_error_clear(&err);
    T_EQ(hml_store_open(t_tmpdir(), &st, &err), HML_ECONFLICT);
    T_CONTAINS(err.message, "schema version 99");
    T_CONTAINS(err.hint, "upgrade harness");
    T_OK(st == NULL);
}

TEST(store_errors_on_garbage_file_and_missing_project)
{
    struct hml_error err;
    struct hml_store *st = NULL;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/.harness", t_tmpdir());
    T_RC(hml_mkdirs(dir, &err), &err);
    const char junk[] = "this is not a database, just some text that is long enough to matter.....";
    T_RC(hml_write_atomic(db_path(), junk, sizeof junk, &err), &err);
    hml_error_clear(&err);
    T_EQ(hml_store_open(t_tmpdir(), &st, &err), HML_EIO);
    T_OK(err.hint[0] != 0);
    T_EQ(hml_store_open("/nonexistent/project", &st, &err), HML_ENOTFOUND);
    T_OK(!hml_path_exists("/nonexistent/project/.harness"));
}
