/* Unit tests for the Studio event log: rows per call, truncation, and the rule that a
 * broken log never fails the caller and says so once on stderr. */
#include "t.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include "harness/alloc.h"
#include "harness/events.h"
#include "harness/fsx.h"

static const char *path_in_tmp(const char *rel)
{
    static char p[4][700];
    static int k;
    char *out = p[k++ % 4];
    snprintf(out, sizeof p[0], "%s/%s", t_tmpdir(), rel);
    return out;
}

static sqlite3 *db_open(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) t_failf(__FILE__, __LINE__, "open %s", path);
    return db;
}

/* The first column of the first row of `sql`, as text ("" for NULL). */
static const char *query1(sqlite3 *db, const char *sql)
{
    static char out[4096];
    sqlite3_stmt *s = NULL;
    out[0] = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) t_failf(__FILE__, __LINE__, "%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        snprintf(out, sizeof out, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return out;
}

TEST(events_call_appends_running_progress_and_final_rows)
{
    struct hml_error err;
    struct hml_events *ev = NULL;
    const char *path = path_in_tmp("home/nested/events.db");
    T_RC(hml_events_open(path, &ev, &err), &err);
    struct hml_event_call c;
    json_t *args = json_pack("{s:s,s:s}", "action", "profile", "category", "numeric");
    T_EQ(hml_events_begin(ev, &c, "data", "profile", "/p/titanic", "mcp:test-client", args), HML_OK);
    T_EQ(hml_events_progress(ev, &c, 1, 3, "column 1/3 · age"), HML_OK);
    T_EQ(hml_events_progress(ev, &c, 2, 0, "no total"), HML_OK);
    T_EQ(hml_events_end(ev, &c, NULL, "| column | type |"), HML_OK);
    struct hml_event_call c2;
    T_EQ(hml_events_begin(ev, &c2, "data", "inspect", "/p/titanic", "cli", NULL), HML_OK);
    T_EQ(hml_events_end(ev, &c2, "not_found", "Error (not_found): no column 'x'"), HML_OK);
    json_decref(args);
    T_OK(strcmp(c.id, c2.id) != 0);
    T_EQ(hml_events_failures(ev), 0);
    hml_events_close(ev);

    sqlite3 *db = db_open(path);
    T_STREQ(query1(db, "PRAGMA journal_mode"), "wal");
    T_STREQ(query1(db, "PRAGMA user_version"), "1");
    T_STREQ(query1(db, "SELECT group_concat(kind, ',') FROM (SELECT kind FROM events ORDER BY seq)"),
            "running,progress,progress,success,running,error");
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE call_id = '%s'", c.id);
    T_STREQ(query1(db, sql), "4");
    T_STREQ(query1(db, "SELECT args FROM events WHERE seq = 1"), "{\"action\":\"profile\",\"category\":\"numeric\"}");
    T_STREQ(query1(db, "SELECT tool || '.' || action || ' ' || project || ' ' || caller FROM events WHERE seq = 3"),
            "data.profile /p/titanic mcp:test-client");
    T_STREQ(query1(db, "SELECT progress || '/' || total || ' ' || message FROM events WHERE seq = 2"),
            "1.0/3.0 column 1/3 · age");
    T_STREQ(query1(db, "SELECT total IS NULL FROM events WHERE seq = 3"), "1");
    T_STREQ(query1(db, "SELECT duration_ms >= 0 AND duration_ms < 60000 FROM events WHERE seq = 4"), "1");
    T_STREQ(query1(db, "SELECT result FROM events WHERE seq = 4"), "| column | type |");
    T_STREQ(query1(db, "SELECT error_code || ' ' || caller FROM events WHERE seq = 6"), "not_found cli");
    snprintf(sql, sizeof sql, "SELECT pid = %ld FROM events WHERE seq = 6", (long)getpid());
    T_STREQ(query1(db, sql), "1");
    sqlite3_close(db);
}

TEST(events_result_is_cut_at_a_utf8_boundary)
{
    /* "aé" is 61 C3 A9: a cut at 2 would split é, so it backs off to 1. */
    T_EQ(hml_utf8_cut("a\xC3\xA9", 3, 2), 1);
    T_EQ(hml_utf8_cut("a\xC3\xA9", 3, 3), 3);
    T_EQ(hml_utf8_cut("abc", 3, 10), 3);
    /* A 4-byte sequence (U+1F600) cut anywhere inside goes back to its start. */
    T_EQ(hml_utf8_cut("xy\xF0\x9F\x98\x80z", 7, 5), 2);

    struct hml_error err;
    struct hml_events *ev = NULL;
    const char *path = path_in_tmp("events.db");
    T_RC(hml_events_open(path, &ev, &err), &err);
    char big[3002];
    big[0] = 'x'; /* one ASCII byte first so that byte 2048 falls inside a sequence */
    for (int i = 0; i < 1500; i++) memcpy(big + 1 + 2 * i, "\xC3\xA9", 2); /* 1500 × é */
    big[3001] = 0;
    struct hml_event_call c;
    T_EQ(hml_events_begin(ev, &c, "data", "profile", "/p", "cli", NULL), HML_OK);
    T_EQ(hml_events_end(ev, &c, NULL, big), HML_OK);
    hml_events_close(ev);
    sqlite3 *db = db_open(path);
    /* 'x' + 1023 × é = 2047 bytes: the 1024th é would end at byte 2049. */
    T_STREQ(query1(db, "SELECT length(CAST(result AS BLOB)) FROM events WHERE kind = 'success'"), "2047");
    T_STREQ(query1(db, "SELECT length(result) FROM events WHERE kind = 'success'"), "1024");
    sqlite3_close(db);
}

TEST(events_open_under_a_regular_file_fails_with_hint)
{
    const char *file = path_in_tmp("not-a-dir");
    struct hml_error err;
    T_RC(hml_write_atomic(file, "x", 1, &err), &err);
    struct hml_events *ev = (struct hml_events *)1;
    char path[800];
    snprintf(path, sizeof path, "%s/events.db", file);
    T_EQ(hml_events_open(path, &ev, &err), HML_EIO);
    T_OK(ev == NULL);
    T_OK(err.hint[0] != 0);

    /* The default opener swallows it: NULL, one stderr line, and recording is a no-op. */
    int saved = dup(2);
    int fd = open(path_in_tmp("stderr.txt"), O_CREAT | O_TRUNC | O_WRONLY, 0600);
    dup2(fd, 2);
    setenv("HARNESS_HOME", file, 1);
    ev = hml_events_open_default();
    dup2(saved, 2);
    close(fd);
    T_OK(ev == NULL);
    struct hml_event_call c;
    T_EQ(hml_events_begin(NULL, &c, "data", "status", "/p", "cli", NULL), HML_OK);
    T_STREQ(c.tool, "data");
    T_EQ(hml_events_end(NULL, &c, NULL, "ok"), HML_OK);
    char *text = NULL;
    size_t n;
    T_RC(hml_read_file(path_in_tmp("stderr.txt"), 1 << 16, &text, &n, &err), &err);
    T_CONTAINS(text, "event log off");
    T_CONTAINS(text, "HARNESS_HOME");
    T_OK(strchr(text, '\n') == text + n - 1); /* exactly one line */
    hml_free(text);
}

static size_t count_lines(const char *path)
{
    char *text = NULL;
    size_t n = 0, lines = 0;
    struct hml_error err;
    if (hml_read_file(path, 1 << 16, &text, &n, &err)) return (size_t)-1;
    for (size_t i = 0; i < n; i++) lines += text[i] == '\n';
    hml_free(text);
    return lines;
}

TEST(events_write_failures_are_counted_and_logged_once_per_streak)
{
    struct hml_error err;
    struct hml_events *ev = NULL;
    const char *path = path_in_tmp("events.db");
    T_RC(hml_events_open(path, &ev, &err), &err);
    sqlite3 *other = db_open(path);
    T_OK(sqlite3_exec(other, "ALTER TABLE events RENAME TO moved", NULL, NULL, NULL) == SQLITE_OK);

    const char *log = path_in_tmp("stderr.txt");
    int saved = dup(2);
    int fd = open(log, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    dup2(fd, 2);
    struct hml_event_call c;
    enum hml_status r1 = hml_events_begin(ev, &c, "data", "status", "/p", "cli", NULL);
    enum hml_status r2 = hml_events_end(ev, &c, NULL, "ok");
    size_t after_streak = count_lines(log);
    sqlite3_exec(other, "ALTER TABLE moved RENAME TO events", NULL, NULL, NULL);
    enum hml_status r3 = hml_events_begin(ev, &c, "data", "status", "/p", "cli", NULL);
    sqlite3_exec(other, "ALTER TABLE events RENAME TO moved", NULL, NULL, NULL);
    enum hml_status r4 = hml_events_end(ev, &c, NULL, "ok");
    dup2(saved, 2);
    close(fd);
    T_EQ(r1, HML_EIO);
    T_EQ(r2, HML_EIO);
    T_EQ(r3, HML_OK);
    T_EQ(r4, HML_EIO);
    T_EQ(after_streak, 1);     /* two failures, one line */
    T_EQ(count_lines(log), 2); /* a success in between: the next failure speaks again */
    T_EQ(hml_events_failures(ev), 3);
    hml_events_close(ev);
    sqlite3_close(other);
}

TEST(events_default_path_follows_harness_home_then_home)
{
    setenv("HARNESS_HOME", "/srv/h", 1);
    char *p = hml_events_default_path();
    T_STREQ(p, "/srv/h/events.db");
    hml_free(p);
    unsetenv("HARNESS_HOME");
    setenv("HOME", "/home/ada", 1);
    p = hml_events_default_path();
    T_STREQ(p, "/home/ada/.harness/events.db");
    hml_free(p);
    unsetenv("HOME");
    T_OK(hml_events_default_path() == NULL);
}

TEST(events_two_writers_share_one_log)
{
    struct hml_error err;
    struct hml_events *a = NULL, *b = NULL;
    const char *path = path_in_tmp("events.db");
    T_RC(hml_events_open(path, &a, &err), &err);
    T_RC(hml_events_open(path, &b, &err), &err);
    for (int i = 0; i < 20; i++) {
        struct hml_event_call c;
        T_EQ(hml_events_begin(i % 2 ? a : b, &c, "data", "status", "/p", "cli", NULL), HML_OK);
        T_EQ(hml_events_end(i % 2 ? b : a, &c, NULL, "ok"), HML_OK);
    }
    hml_events_close(a);
    hml_events_close(b);
    sqlite3 *db = db_open(path);
    T_STREQ(query1(db, "SELECT count(*) FROM events"), "40");
    T_STREQ(query1(db, "SELECT count(DISTINCT call_id) FROM events"), "20");
    sqlite3_close(db);
}
