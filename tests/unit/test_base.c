/* Unit tests for err, alloc, arena, buf and fsx. */
#include "t.h"

#include <sys/stat.h>
#include <unistd.h>

#include "harness/alloc.h"
#include "harness/arena.h"
#include "harness/buf.h"
#include "harness/err.h"
#include "harness/fsx.h"

TEST(err_suggest_nearest_name)
{
    const char *names[] = {"learning_rate", "max_depth", "n_estimators", "subsample"};
    T_STREQ(hml_suggest("learning_rat", names, 4), "learning_rate");
    T_STREQ(hml_suggest("MAX_DEPTH", names, 4), "max_depth");
    T_STREQ(hml_suggest("learn", names, 4), "learning_rate");
    T_OK(hml_suggest("zzzzzzzz", names, 4) == NULL);
    const char *short_names[] = {"lgb", "xgb"};
    T_STREQ(hml_suggest("lbg", short_names, 2), "lgb"); /* a transposition is one edit */
    T_EQ(hml_edit_distance("abcd", "acbd", 3), 1);
    T_EQ(hml_edit_distance("kitten", "sitting", 5), 3);
}

TEST(err_choices_fill_hint_and_valid_list)
{
    struct hml_error err;
    hml_error_clear(&err);
    const char *names[] = {"median", "mean", "mode"};
    hml_fail(&err, HML_EINVAL, "data.fill_nulls", "unknown strategy '%s'", "meen");
    T_EQ(hml_error_choices(&err, "meen", names, 3), HML_EINVAL);
    T_STREQ(err.did_you_mean, "mean");
    T_STREQ(err.valid, "median\nmean\nmode");
    T_CONTAINS(err.hint, "did you mean 'mean'?");
    T_CONTAINS(err.hint, "valid: median, mean, mode");
    T_STREQ(hml_status_name(err.code), "invalid_params");
}

TEST(alloc_counts_live_bytes_and_fails_nth)
{
    size_t base = hml_alloc_live_bytes();
    void *a = hml_malloc(100);
    T_EQ(hml_alloc_live_bytes(), base + 100);
    a = hml_realloc(a, 300);
    T_EQ(hml_alloc_live_bytes(), base + 300);
    hml_free(a);
    T_EQ(hml_alloc_live_bytes(), base);
    hml_alloc_fail_at(2);
    void *x = hml_malloc(8), *y = hml_malloc(8), *z = hml_malloc(8);
    T_OK(x != NULL);
    T_OK(y == NULL);
    T_OK(z != NULL);
    T_OK(hml_alloc_failed());
    hml_free(x);
    hml_free(z);
}

TEST(arena_cap_is_enforced)
{
    struct hml_arena a;
    hml_arena_init(&a, 1024);
    T_OK(hml_arena_alloc(&a, 1000) != NULL);
    T_OK(hml_arena_alloc(&a, 100) == NULL);
    char *s = hml_arena_printf(&a, "%d", 7);
    T_STREQ(s, "7");
    hml_arena_fini(&a);
}

TEST(buf_printf_and_detach)
{
    struct hml_buf b = HML_BUF_INIT;
    for (int i = 0; i < 1000; i++) hml_buf_printf(&b, "%d,", i);
    T_OK(hml_buf_ok(&b));
    T_OK(strncmp(hml_buf_str(&b), "0,1,2,", 6) == 0);
    char *s = hml_buf_detach(&b);
    T_EQ(b.len, 0);
    hml_free(s);
}

static char *slurp(const char *path)
{
    char *s = NULL;
    struct hml_error err;
    if (hml_read_file(path, 1 << 20, &s, NULL, &err)) return NULL;
    return s;
}

TEST(txn_commits_all_files_or_none)
{
    struct hml_error err;
    char a[512], b[512], deep[512];
    snprintf(a, sizeof a, "%s/a.txt", t_tmpdir());
    snprintf(b, sizeof b, "%s/b.txt", t_tmpdir());
    snprintf(deep, sizeof deep, "%s/new/dir/c.txt", t_tmpdir());
    T_RC(hml_write_atomic(a, "old-a", 5, &err), &err);

    /* Aborted: nothing changes, created directories disappear. */
    struct hml_txn *t = hml_txn_new();
    T_RC(hml_txn_write(t, a, "new-a", 5, &err), &err);
    T_RC(hml_txn_write(t, deep, "c", 1, &err), &err);
    hml_txn_free(t);
    char *s = slurp(a);
    T_STREQ(s, "old-a");
    hml_free(s);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/new", t_tmpdir());
    T_OK(!hml_path_exists(dir));

    /* Committed: both land. */
    t = hml_txn_new();
    T_RC(hml_txn_write(t, a, "new-a", 5, &err), &err);
    T_RC(hml_txn_write(t, b, "new-b", 5, &err), &err);
    T_RC(hml_txn_commit(t, &err), &err);
    hml_txn_free(t);
    s = slurp(a);
    T_STREQ(s, "new-a");
    hml_free(s);
    s = slurp(b);
    T_STREQ(s, "new-b");
    hml_free(s);
}

TEST(read_file_missing_has_hint)
{
    struct hml_error err;
    char *s;
    hml_error_clear(&err);
    T_EQ(hml_read_file("/nonexistent/x.csv", 100, &s, NULL, &err), HML_ENOTFOUND);
    T_CONTAINS(err.message, "/nonexistent/x.csv");
    T_OK(err.hint[0] != 0);
}
