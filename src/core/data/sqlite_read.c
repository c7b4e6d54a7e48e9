/* sqlite_read.c — a SQLite table into a frame: one pass to type the columns,
 * one to fill them, so no row is held twice. */
#include "harness/io.h"
#include "harness/alloc.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define TABLES_MAX 256

enum kind { K_NONE = 0, K_INT, K_REAL, K_DATE, K_TEXT };

static enum hml_status db_fail(sqlite3 *db, const char *path, struct hml_error *err)
{
    hml_fail(err, HML_EIO, "sqlite", "cannot read '%s': %s", path, db ? sqlite3_errmsg(db) : "out of memory");
    return hml_hint(err, "check that the file is a SQLite database and readable");
}

/* Picks the table: the one named, or the only one there is. */
static enum hml_status choose_table(sqlite3 *db, const char *path, const char *want, char *out, size_t cap,
                                    struct hml_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type IN ('table','view') "
                               "AND name NOT LIKE 'sqlite_%' ORDER BY name", -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, path, err);
    static _Thread_local char names[TABLES_MAX][128];
    const char *ptrs[TABLES_MAX];
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && n < TABLES_MAX) {
        snprintf(names[n], sizeof names[n], "%s", (const char *)sqlite3_column_text(st, 0));
        ptrs[n] = names[n];
        n++;
    }
    sqlite3_finalize(st);
    for (size_t i = 0; want && i < n; i++)
        if (!strcmp(ptrs[i], want)) return snprintf(out, cap, "%s", want), HML_OK;
    if (!want && n == 1) return snprintf(out, cap, "%s", ptrs[0]), HML_OK;
    if (!n) {
        hml_fail(err, HML_EINVAL, "sqlite", "'%s' holds no tables", path);
        return hml_hint(err, "check the database file");
    }
    if (!want) hml_fail(err, HML_EINVAL, "sqlite", "'%s' holds %zu tables; say which one", path, n);
    else hml_fail(err, HML_ENOTFOUND, "sqlite", "no table '%s' in '%s'", want, path);
    enum hml_status rc = hml_error_choices(err, want ? want : "", ptrs, n);
    char hint[sizeof err->hint];
    snprintf(hint, sizeof hint, "pass table=<name>; %s", err->hint);
    snprintf(err->hint, sizeof err->hint, "%s", hint);
    return rc;
}

static enum kind widen(enum kind k, int type, const unsigned char *text, int len)
{
    int32_t days;
    switch (type) {
    case SQLITE_INTEGER: return k == K_NONE || k == K_INT ? K_INT : k == K_REAL ? K_REAL : K_TEXT;
    case SQLITE_FLOAT: return k == K_NONE || k == K_INT || k == K_REAL ? K_REAL : K_TEXT;
    case SQLITE_TEXT:
        if ((k == K_NONE || k == K_DATE) && hml_date_parse((const char *)text, (size_t)len, &days)) return K_DATE;
        return K_TEXT;
    default: return k;
    }
}

static enum hml_type to_type(enum kind k)
{
    switch (k) {
    case K_INT: return HML_TYPE_I64;
    case K_DATE: return HML_TYPE_DATE;
    case K_TEXT: return HML_TYPE_STR;
    default: return HML_TYPE_F64; /* all-null columns read as float, as in CSV */
    }
}

/* Pass 1: column kinds and the row count. */
static enum hml_status scan(sqlite3_stmt *st, int ncols, enum kind *kinds, size_t *rows, struct hml_error *err)
{
    int rc;
    *rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int j = 0; j < ncols; j++) {
            int t = sqlite3_column_type(st, j);
            if (t == SQLITE_BLOB) {
                hml_fail(err, HML_EINVAL, "sqlite", "column '%s' holds binary data (BLOB) at row %zu",
                         sqlite3_column_name(st, j), *rows + 1);
                return hml_hint(err, "select the table through a view that leaves the BLOB column out");
            }
            kinds[j] = widen(kinds[j], t, sqlite3_column_text(st, j), sqlite3_column_bytes(st, j));
        }
        if (++*rows > HML_FRAME_ROWS_MAX) {
            hml_fail(err, HML_ELIMIT, "sqlite", "more than %u rows", HML_FRAME_ROWS_MAX);
            return hml_hint(err, "read a sample through a view with LIMIT");
        }
    }
    if (rc == SQLITE_DONE) return HML_OK;
    hml_fail(err, HML_EIO, "sqlite", "reading failed after %zu rows", *rows);
    return hml_hint(err, "check the database with `sqlite3 FILE 'PRAGMA integrity_check'`");
}

static bool put(struct hml_column *c, size_t i, sqlite3_stmt *st, int j)
{
    if (sqlite3_column_type(st, j) == SQLITE_NULL) return hml_column_set_null(c, i);
    switch (c->type) {
    case HML_TYPE_I64: hml_i64(c)[i] = sqlite3_column_int64(st, j); return true;
    case HML_TYPE_F64: hml_f64(c)[i] = sqlite3_column_double(st, j); return true;
    case HML_TYPE_DATE:
        return hml_date_parse((const char *)sqlite3_column_text(st, j), (size_t)sqlite3_column_bytes(st, j),
                              &hml_days(c)[i]);
    case HML_TYPE_STR: {
        const unsigned char *s = sqlite3_column_text(st, j);
        int32_t code = hml_dict_intern(c->dict, (const char *)s, (size_t)sqlite3_column_bytes(st, j));
        if (code < 0) return false;
        hml_codes(c)[i] = code;
        return true;
    }
    case HML_TYPE_BOOL: return true;
    }
    return true;
}

static enum hml_status fill(sqlite3_stmt *st, int ncols, const enum kind *kinds, size_t rows, struct hml_frame *f,
                            struct hml_ingest_report *rep, struct hml_error *err)
{
    struct hml_column *cols[HML_CSV_COLS_MAX];
    enum hml_status rc = HML_OK;
    int made = 0;
    for (; made < ncols; made++)
        if (!(cols[made] = hml_column_new(to_type(kinds[made]), rows))) break;
    if (made < ncols) rc = hml_fail(err, HML_ENOMEM, "sqlite", "out of memory");
    sqlite3_reset(st);
    for (size_t i = 0; !rc && i < rows && sqlite3_step(st) == SQLITE_ROW; i++)
        for (int j = 0; j < ncols && !rc; j++)
            if (!put(cols[j], i, st, j)) rc = hml_fail(err, HML_ENOMEM, "sqlite", "out of memory");
    for (int j = 0; !rc && j < ncols; j++) {
        rep->nulls += cols[j]->null_count;
        rc = hml_frame_add(f, sqlite3_column_name(st, j), cols[j], err);
        if (rc == HML_EINVAL) hml_hint(err, "give the columns distinct names in a view");
    }
    for (int j = 0; j < made; j++) hml_column_unref(cols[j]);
    return rc;
}

enum hml_status hml_sqlite_read_table(const char *path, const char *table, struct hml_frame **out,
                                      struct hml_ingest_report *rep, struct hml_error *err)
{
    memset(rep, 0, sizeof *rep);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    struct hml_frame *f = NULL;
    char name[128], sql[300];
    enum hml_status rc = HML_OK;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) rc = db_fail(db, path, err);
    if (!rc) rc = choose_table(db, path, table, name, sizeof name, err);
    if (!rc) {
        /* Identifiers are quoted with doubled quotes, so any table name is safe. */
        char *q = sqlite3_mprintf("SELECT * FROM \"%w\"", name);
        snprintf(sql, sizeof sql, "%s", q ? q : "");
        sqlite3_free(q);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) rc = db_fail(db, path, err);
    }
    int ncols = st ? sqlite3_column_count(st) : 0;
    if (!rc && (ncols <= 0 || ncols > (int)HML_CSV_COLS_MAX)) {
        hml_fail(err, HML_ELIMIT, "sqlite", "table '%s' has %d columns", name, ncols);
        rc = hml_hint(err, "select at most %u columns through a view", HML_CSV_COLS_MAX);
    }
    enum kind *kinds = rc ? NULL : hml_calloc((size_t)ncols, sizeof *kinds);
    size_t rows = 0;
    if (!rc && !kinds) rc = hml_fail(err, HML_ENOMEM, "sqlite", "out of memory");
    if (!rc) rc = scan(st, ncols, kinds, &rows, err);
    if (!rc && !(f = hml_frame_new())) rc = hml_fail(err, HML_ENOMEM, "sqlite", "out of memory");
    if (!rc) rc = fill(st, ncols, kinds, rows, f, rep, err);
    hml_free(kinds);
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (rc) {
        hml_frame_free(f);
        return rc;
    }
    rep->rows = rows;
    *out = f;
    return HML_OK;
}
