/* Unit tests for the research notebook (core/science/notebook.c): ids, limits, strike,
 * pagination, search ranking, the summary's size, torn lines, concurrent writers, and
 * loading under every allocation failure. */
#include "t.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/alloc.h"
#include "harness/fsx.h"
#include "harness/log.h"
#include "harness/notebook.h"

/* ---- helpers --------------------------------------------------------------------------------- */

static const char *nb_path(void)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", t_tmpdir(), HML_NB_REL);
    return path;
}

static struct hml_nb_receipt put(enum hml_nb_type type, const char *content, const char *tags_csv)
{
    const char *tags[8];
    char buf[256] = "";
    size_t n = 0;
    if (tags_csv) {
        snprintf(buf, sizeof buf, "%s", tags_csv);
        for (char *s = buf, *e; s && *s && n < 8; s = e) {
            e = strchr(s, ',');
            if (e) *e++ = 0;
            tags[n++] = s;
        }
    }
    struct hml_nb_new in = {.type = type, .content = content, .tags = tags, .tags_n = n};
    struct hml_nb_receipt r;
    struct hml_error err;
    memset(&r, 0, sizeof r);
    T_RC(hml_notebook_write(t_tmpdir(), &in, &r, &err), &err);
    return r;
}

static struct hml_notebook *load(void)
{
    struct hml_notebook *nb = NULL;
    struct hml_error err;
    T_RC(hml_notebook_load(t_tmpdir(), &nb, &err), &err);
    return nb;
}

static char *slurp(size_t *n)
{
    char *text = NULL;
    struct hml_error err;
    T_RC(hml_read_file(nb_path(), (size_t)1 << 30, &text, n, &err), &err);
    return text;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static void mk_nb_dir(void)
{
    char dir[600];
    struct hml_error err;
    snprintf(dir, sizeof dir, "%s/notebook", t_tmpdir());
    T_RC(hml_mkdirs(dir, &err), &err);
}

static void append_raw(const char *bytes)
{
    mk_nb_dir();
    FILE *f = fopen(nb_path(), "ab");
    T_OK(f != NULL);
    fputs(bytes, f);
    fclose(f);
}

/* A string of n copies of the UTF-8 sequence u. Caller frees. */
static char *repeat(const char *u, size_t n)
{
    size_t k = strlen(u);
    char *s = malloc(n * k + 1);
    for (size_t i = 0; i < n; i++) memcpy(s + i * k, u, k);
    s[n * k] = 0;
    return s;
}

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* ---- writing and loading ------------------------------------------------------------------------ */

TEST(nb_write_assigns_sequential_ids_and_reads_back)
{
    struct hml_nb_receipt a = put(HML_NB_PLAN, "  try xgboost first\n", "Age, baseline, age ");
    struct hml_nb_receipt b = put(HML_NB_FINDING, "fare helps: AUC 0.71 → 0.74", NULL);
    struct hml_nb_new in = {.type = HML_NB_DECISION, .content = "keep fare", .experiment_id = "exp-002",
                            .auto_tags = (const char *[]){"fare", "FARE", "x\ny"}, .auto_tags_n = 3};
    struct hml_nb_receipt c;
    struct hml_error err;
    T_RC(hml_notebook_write(t_tmpdir(), &in, &c, &err), &err);
    T_STREQ(a.id, "nb-001");
    T_STREQ(b.id, "nb-002");
    T_STREQ(c.id, "nb-003");
    T_EQ(a.repaired_bytes, 0);
    int64_t ta, tb, tc;
    T_OK(hml_nb_time_parse(a.created_at, &ta) && hml_nb_time_parse(b.created_at, &tb));
    T_OK(hml_nb_time_parse(c.created_at, &tc));
    T_OK(ta < tb && tb < tc); /* strictly increasing with the id */

    struct hml_notebook *nb = load();
    T_EQ(nb->n, 3);
    T_EQ(nb->skipped, 0);
    T_EQ(nb->torn_bytes, 0);
    const struct hml_nb_entry *e = &nb->entries[0];
    T_EQ(e->seq, 1);
    T_EQ(e->type, HML_NB_PLAN);
    T_STREQ(e->content, "try xgboost first"); /* trimmed */
    T_EQ(e->tags_n, 2);                       /* "age" repeats "Age" ignoring case */
    T_STREQ(e->tags[0], "Age");
    T_STREQ(e->tags[1], "baseline");
    T_OK(e->experiment_id == NULL);
    T_STREQ(nb->entries[1].content, "fare helps: AUC 0.71 → 0.74");
    e = &nb->entries[2];
    T_STREQ(e->experiment_id, "exp-002");
    T_EQ(e->auto_tags_n, 1); /* FARE repeats fare; a tag with a newline is dropped quietly */
    T_STREQ(e->auto_tags[0], "fare");
    T_STREQ(e->created_at, c.created_at);
    T_OK(hml_notebook_find(nb, "nb-2") == &nb->entries[1]);
    T_OK(hml_notebook_find(nb, "3") == &nb->entries[2]);
    T_OK(hml_notebook_find(nb, "nb-004") == NULL);
    hml_notebook_free(nb);

    size_t len;
    char *text = slurp(&len);
    T_EQ(count_lines(text), 3);
    T_OK(text[len - 1] == '\n');
    const char *head = "{\"id\":\"nb-001\",\"type\":\"plan\",\"content\":\"try xgboost first\","
                       "\"tags\":[\"Age\",\"baseline\"],\"created_at\":\"";
    T_OK(strncmp(text, head, strlen(head)) == 0);
    T_CONTAINS(text, "\"experiment_id\":\"exp-002\"");
    T_CONTAINS(text, "\"auto_tags\":[\"fare\"]");
    hml_free(text);
}

TEST(nb_ids_pass_999_and_parse_leniently)
{
    T_EQ(hml_nb_id_seq("nb-007"), 7);
    T_EQ(hml_nb_id_seq("NB-7"), 7);
    T_EQ(hml_nb_id_seq("12"), 12);
    T_EQ(hml_nb_id_seq("nb-1000"), 1000);
    T_EQ(hml_nb_id_seq("nb-"), 0);
    T_EQ(hml_nb_id_seq("nb-1x"), 0);
    T_EQ(hml_nb_id_seq("exp-001"), 0);
    append_raw("{\"id\":\"nb-999\",\"type\":\"note\",\"content\":\"x\",\"tags\":[],"
               "\"created_at\":\"2026-03-09T12:00:00.000Z\"}\n");
    struct hml_nb_receipt r = put(HML_NB_NOTE, "after 999", NULL);
    T_STREQ(r.id, "nb-1000");
}

TEST(nb_time_parse_matches_utc)
{
    int64_t ms;
    T_OK(hml_nb_time_parse("2026-03-09T12:34:56Z", &ms));
    T_EQ(ms, 1773059696000LL); /* calendar.timegm in Python */
    T_OK(hml_nb_time_parse("2026-03-09T12:34:56.5Z", &ms));
    T_EQ(ms, 1773059696500LL);
    T_OK(hml_nb_time_parse("2026-03-09T12:34:56.123456Z", &ms));
    T_EQ(ms, 1773059696123LL);
    T_OK(!hml_nb_time_parse("2026-03-09 12:34:56Z", &ms));
    T_OK(!hml_nb_time_parse("2026-03-09T12:34:56+01:00", &ms));
    T_OK(!hml_nb_time_parse("2026-13-09T12:34:56Z", &ms));
    T_OK(!hml_nb_time_parse("2026-03-09T12:34:56.Z", &ms));
    T_OK(!hml_nb_time_parse("yesterday", &ms));
}

TEST(nb_write_rejects_bad_input_with_hints)
{
    struct hml_error err;
    struct hml_nb_receipt r;
    enum hml_nb_type t;
    T_EQ(hml_nb_type_parse("plann", &t, &err), HML_EINVAL);
    T_STREQ(err.did_you_mean, "plan");
    T_CONTAINS(err.valid, "phase_transition");
    T_OK(hml_nb_type_parse("phase_transition", &t, &err) == HML_OK && t == HML_NB_PHASE_TRANSITION);

    struct hml_nb_new in = {.type = HML_NB_NOTE, .content = " \n\t "};
    T_EQ(hml_notebook_write(t_tmpdir(), &in, &r, &err), HML_EINVAL);
    T_CONTAINS(err.message, "content is empty");
    T_OK(err.hint[0]);

    char *big = repeat("a", HML_NB_CONTENT_MAX + 1);
    in.content = big;
    T_EQ(hml_notebook_write(t_tmpdir(), &in, &r, &err), HML_ELIMIT);
    T_CONTAINS(err.message, "20001 characters, over the limit of 20000");
    T_CONTAINS(err.hint, "split it");
    free(big);

    in.content = "\xC3\x28 broken";
    T_EQ(hml_notebook_write(t_tmpdir(), &in, &r, &err), HML_EINVAL);
    T_CONTAINS(err.message, "UTF-8");

    in.content = "fine";
    in.experiment_id = "exp 1/../x";
    T_EQ(hml_notebook_write(t_tmpdir(), &in, &r, &err), HML_EINVAL);
    T_CONTAINS(err.hint, "exp-003");
    in.experiment_id = "..";
    T_EQ(hml_notebook_write(t_tmpdir(), &in, &r, &err), HML_EINVAL);
    in.experiment_id = NULL;

    const char *tags[21];
    char names[21][8];
    for (int i = 0; i < 21; i++) snprintf(names[i], sizeof names[i], "t%d", i), tags[i] = names[i];
    in.tags = tags;
    in.tags_n = 21;
    T_EQ(hml_notebook_write(t_tmpdir(), &in, &r, &err), HML_ELIMIT);
    T_CONTAINS(err.message, "more than 20 distinct tags");
    T_OK(err.hint[0]);

    char *long_tag = repeat("é", HML_NB_TAG_MAX + 1);
    in.tags = (const char *[]){long_tag};
    in.tags_n = 1;
    T_EQ(hml_notebook_write(t_tmpdir(), &in, &r, &err), HML_ELIMIT);
    T_CONTAINS(err.message, "over 64 characters");
    in.tags = (const char *[]){"  "};
    T_EQ(hml_notebook_write(t_tmpdir(), &in, &r, &err), HML_EINVAL);
    T_CONTAINS(err.message, "tag 1 is empty");
    in.tags = (const char *[]){"two\nlines"};
    T_EQ(hml_notebook_write(t_tmpdir(), &in, &r, &err), HML_EINVAL);
    T_OK(err.hint[0]);
    free(long_tag);

    T_OK(!hml_path_exists(nb_path())); /* nothing was written */

    /* At the limits exactly: 20,000 two-byte characters, 20 tags (with repeats) of 64. */
    char *at_limit = repeat("é", HML_NB_CONTENT_MAX);
    char *tag64 = repeat("é", HML_NB_TAG_MAX);
    const char *ok_tags[22];
    for (int i = 0; i < 19; i++) ok_tags[i] = names[i];
    ok_tags[19] = tag64;
    ok_tags[20] = "T0"; /* repeats t0 */
    ok_tags[21] = tag64;
    in = (struct hml_nb_new){.type = HML_NB_NOTE, .content = at_limit, .tags = ok_tags, .tags_n = 22};
    T_RC(hml_notebook_write(t_tmpdir(), &in, &r, &err), &err);
    struct hml_notebook *nb = load();
    T_EQ(utf8_len(nb->entries[0].content), HML_NB_CONTENT_MAX);
    T_EQ(nb->entries[0].tags_n, 20);
    hml_notebook_free(nb);
    free(at_limit);
    free(tag64);
}

TEST(nb_file_size_limit_is_enforced)
{
    struct hml_error err;
    mk_nb_dir();
    /* One line of blanks (skipped on load) that leaves 40 bytes below the limit. */
    size_t n = HML_NB_FILE_MAX - 40;
    char *blank = malloc(n);
    memset(blank, ' ', n - 1);
    blank[n - 1] = '\n';
    T_RC(hml_write_atomic(nb_path(), blank, n, &err), &err);
    struct hml_nb_new in = {.type = HML_NB_NOTE, .content = "one more"};
    struct hml_nb_receipt r;
    T_EQ(hml_notebook_write(t_tmpdir(), &in, &r, &err), HML_ELIMIT);
    T_CONTAINS(err.message, "64 MiB");
    T_CONTAINS(err.hint, "entries-1.jsonl");
    struct stat st;
    T_OK(stat(nb_path(), &st) == 0 && (size_t)st.st_size == n); /* unchanged */
    append_raw("                                                            \n");
    struct hml_notebook *nb = NULL;
    T_EQ(hml_notebook_load(t_tmpdir(), &nb, &err), HML_ELIMIT);
    T_OK(nb == NULL);
    T_CONTAINS(err.hint, "move it aside");
    free(blank);
}

/* ---- strike ---------------------------------------------------------------------------------------- */

TEST(nb_strike_hides_and_is_recorded)
{
    struct hml_error err;
    struct hml_nb_receipt r;
    T_EQ(hml_notebook_strike(t_tmpdir(), "nb-001", "wrong", &r, &err), HML_ENOTFOUND);
    T_CONTAINS(err.hint, "empty");
    T_OK(!hml_path_exists(nb_path())); /* a failed strike creates nothing */
    put(HML_NB_THEORY, "gender drives survival", "gender");
    put(HML_NB_THEORY, "class drives survival", "pclass");
    T_RC(hml_notebook_strike(t_tmpdir(), "nb-1", "  superseded by nb-002 ", &r, &err), &err);
    T_STREQ(r.id, "nb-001");
    struct hml_nb_receipt struck = r;
    T_EQ(hml_notebook_strike(t_tmpdir(), "nb-001", "again", &r, &err), HML_ECONFLICT);
    T_CONTAINS(err.message, "superseded by nb-002");
    T_OK(err.hint[0]);
    T_EQ(hml_notebook_strike(t_tmpdir(), "nb-003", "x", &r, &err), HML_ENOTFOUND);
    T_STREQ(err.did_you_mean, "nb-002");
    T_EQ(hml_notebook_strike(t_tmpdir(), "nb-002", "", &r, &err), HML_EINVAL);
    T_CONTAINS(err.hint, "superseded");

    size_t len;
    char *text = slurp(&len);
    T_EQ(count_lines(text), 3);
    T_CONTAINS(text, "gender drives survival"); /* never deleted */
    T_CONTAINS(text, "{\"strike\":\"nb-001\",\"reason\":\"superseded by nb-002\",\"created_at\":\"");
    hml_free(text);

    struct hml_notebook *nb = load();
    T_EQ(nb->n, 2);
    T_EQ(nb->struck_n, 1);
    T_OK(nb->entries[0].struck);
    T_STREQ(nb->entries[0].strike_reason, "superseded by nb-002");
    T_STREQ(nb->entries[0].struck_at, struck.created_at);
    T_OK(!nb->entries[1].struck);
    const struct hml_nb_entry *got[4];
    size_t total;
    T_EQ(hml_notebook_select(nb, &(struct hml_nb_filter){0}, 0, 4, got, &total), 1);
    T_STREQ(got[0]->id, "nb-002");
    T_EQ(hml_notebook_select(nb, &(struct hml_nb_filter){.include_struck = true}, 0, 4, got, &total), 2);
    T_STREQ(hml_notebook_newest(nb, HML_NB_THEORY, false)->id, "nb-002");
    T_OK(hml_notebook_find(nb, "nb-001")->struck);
    json_t *j = hml_nb_entry_json(&nb->entries[0]);
    T_OK(json_is_true(json_object_get(j, "struck")));
    T_STREQ(hml_json_str(j, "strike_reason", ""), "superseded by nb-002");
    json_decref(j);
    struct hml_buf md = HML_BUF_INIT;
    T_RC(hml_notebook_summary(nb, false, &md, NULL, &err), &err);
    T_OK(!strstr(hml_buf_str(&md), "gender drives survival")); /* struck entries leave the summary */
    T_CONTAINS(hml_buf_str(&md), "class drives survival");
    T_CONTAINS(hml_buf_str(&md), "+1 struck, hidden");
    T_OK(!strstr(hml_buf_str(&md), "gender ×")); /* and its tags leave the index */
    hml_buf_free(&md);
    hml_notebook_free(nb);
}

/* ---- queries ----------------------------------------------------------------------------------------- */

TEST(nb_select_paginates_newest_first_and_filters)
{
    char content[64];
    for (int i = 1; i <= 25; i++) {
        snprintf(content, sizeof content, "entry %d", i);
        put(i % 5 == 0 ? HML_NB_FINDING : HML_NB_NOTE, content, i % 2 ? "odd,all" : "even,all");
    }
    struct hml_notebook *nb = load();
    const struct hml_nb_entry *got[10];
    size_t total;
    struct hml_nb_filter f = {0};
    T_EQ(hml_notebook_select(nb, &f, 0, 10, got, &total), 10);
    T_EQ(total, 25);
    T_STREQ(got[0]->id, "nb-025");
    T_STREQ(got[9]->id, "nb-016");
    T_EQ(hml_notebook_select(nb, &f, 20, 10, got, &total), 5);
    T_STREQ(got[4]->id, "nb-001");
    T_EQ(hml_notebook_select(nb, &f, 30, 10, got, &total), 0);
    f.types = 1u << HML_NB_FINDING;
    T_EQ(hml_notebook_select(nb, &f, 0, 10, got, &total), 5);
    T_STREQ(got[0]->id, "nb-025");
    T_STREQ(got[4]->id, "nb-005");
    f = (struct hml_nb_filter){.tags = (const char *[]){"ODD", "all"}, .tags_n = 2};
    T_EQ(hml_notebook_select(nb, &f, 0, 10, got, &total), 10);
    T_EQ(total, 13); /* every tag must match, ignoring case */
    T_STREQ(got[1]->id, "nb-023");
    f = (struct hml_nb_filter){.after_seq = 22};
    hml_notebook_select(nb, &f, 0, 10, got, &total);
    T_EQ(total, 3);
    f = (struct hml_nb_filter){.after_ms = nb->entries[19].created_ms};
    hml_notebook_select(nb, &f, 0, 10, got, &total);
    T_EQ(total, 5);
    T_STREQ(got[4]->id, "nb-021");
    hml_notebook_free(nb);
}

TEST(nb_search_ranks_by_matches_then_recency)
{
    put(HML_NB_NOTE, "Age, age and AGE again", NULL);            /* nb-001: 3 */
    put(HML_NB_NOTE, "one mention of age", NULL);                 /* nb-002: 1 */
    put(HML_NB_FINDING, "the Age effect", "age");                 /* nb-003: 1 + tag 1 = 2 */
    put(HML_NB_NOTE, "another age note", NULL);                   /* nb-004: 1 */
    put(HML_NB_NOTE, "nothing here about it", "fare");            /* nb-005: 0 */
    put(HML_NB_NOTE, "aaaa", NULL);                               /* nb-006: "aa" twice, not 3 */
    struct hml_notebook *nb = load();
    struct hml_nb_hit *hits;
    size_t n;
    struct hml_error err;
    T_RC(hml_notebook_search(nb, " AGE ", NULL, &hits, &n, &err), &err);
    T_EQ(n, 4);
    T_STREQ(hits[0].entry->id, "nb-001");
    T_EQ(hits[0].matches, 3);
    T_STREQ(hits[1].entry->id, "nb-003");
    T_EQ(hits[1].matches, 2);
    T_STREQ(hits[2].entry->id, "nb-004"); /* a tie goes to the newer */
    T_STREQ(hits[3].entry->id, "nb-002");
    hml_free(hits);
    T_RC(hml_notebook_search(nb, "aa", NULL, &hits, &n, &err), &err);
    T_EQ(n, 1);
    T_EQ(hits[0].matches, 2); /* non-overlapping */
    hml_free(hits);
    T_RC(hml_notebook_search(nb, "age", &(struct hml_nb_filter){.types = 1u << HML_NB_FINDING}, &hits, &n, &err), &err);
    T_EQ(n, 1);
    hml_free(hits);
    T_RC(hml_notebook_search(nb, "zebra", NULL, &hits, &n, &err), &err);
    T_EQ(n, 0);
    T_OK(hits == NULL);
    T_EQ(hml_notebook_search(nb, "  ", NULL, &hits, &n, &err), HML_EINVAL);
    T_OK(err.hint[0]);
    char *q = repeat("q", HML_NB_QUERY_MAX + 1);
    T_EQ(hml_notebook_search(nb, q, NULL, &hits, &n, &err), HML_ELIMIT);
    T_OK(err.hint[0]);
    free(q);
    hml_notebook_free(nb);

    struct hml_nb_receipt r;
    T_RC(hml_notebook_strike(t_tmpdir(), "nb-001", "dup", &r, &err), &err);
    nb = load();
    T_RC(hml_notebook_search(nb, "age", NULL, &hits, &n, &err), &err);
    T_EQ(n, 3); /* struck entries are hidden unless asked */
    T_STREQ(hits[0].entry->id, "nb-003");
    hml_free(hits);
    T_RC(hml_notebook_search(nb, "age", &(struct hml_nb_filter){.include_struck = true}, &hits, &n, &err), &err);
    T_EQ(n, 4);
    hml_free(hits);
    hml_notebook_free(nb);
}

/* ---- the summary --------------------------------------------------------------------------------------- */

TEST(nb_summary_has_the_essentials_and_stays_short)
{
    struct hml_error err;
    struct hml_notebook *nb = load();
    struct hml_buf md = HML_BUF_INIT;
    T_RC(hml_notebook_summary(nb, false, &md, NULL, &err), &err);
    T_OK(strncmp(hml_buf_str(&md), "No notebook entries yet", 23) == 0);
    hml_buf_free(&md);
    hml_notebook_free(nb);

    put(HML_NB_THEORY, "old theory", NULL);
    put(HML_NB_THEORY, "Survival is mostly gender and class; age matters for children.", "gender,pclass");
    put(HML_NB_PLAN, "1. baseline xgb\n2. add family size\n3. try logistic", "xgb");
    char content[64];
    for (int i = 1; i <= 7; i++) {
        snprintf(content, sizeof content, "finding %d: fare helps\nsecond line", i);
        put(HML_NB_FINDING, content, "fare");
    }
    put(HML_NB_DECISION, "keep fare", "fare");
    nb = load();
    json_t *d;
    T_RC(hml_notebook_summary(nb, false, &md, &d, &err), &err);
    const char *s = hml_buf_str(&md);
    T_OK(utf8_len(s) <= HML_NB_SUMMARY_MAX);
    T_CONTAINS(s, "# Notebook: 11 entries\n");
    T_CONTAINS(s, "theory 2 · finding 7 · decision 1 · plan 1\n");
    T_CONTAINS(s, "## Theory · nb-002 · ");
    T_CONTAINS(s, "Survival is mostly gender and class; age matters for children.\n");
    T_OK(!strstr(s, "old theory"));
    T_CONTAINS(s, "1. baseline xgb\n2. add family size\n3. try logistic\n"); /* the plan in full */
    T_CONTAINS(s, "## Recent findings (5 of 7)\n");
    T_CONTAINS(s, "- nb-010 (");
    T_CONTAINS(s, "): finding 7: fare helps…\n"); /* one line each */
    T_CONTAINS(s, "- nb-006 (");
    T_OK(!strstr(s, "- nb-005 ("));
    T_CONTAINS(s, "fare ×8 · xgb ×1"); /* most used first, then most recent */
    T_EQ(json_integer_value(json_object_get(json_object_get(d, "counts"), "finding")), 7);
    T_STREQ(hml_json_str(json_object_get(d, "theory"), "id", ""), "nb-002");
    T_STREQ(hml_json_str(json_object_get(d, "plan"), "id", ""), "nb-003");
    T_EQ(json_array_size(json_object_get(d, "recent_findings")), 5);
    json_t *fare = json_array_get(json_object_get(d, "entities"), 0);
    T_STREQ(hml_json_str(fare, "name", ""), "fare");
    T_EQ(json_integer_value(json_object_get(fare, "count")), 8);
    T_STREQ(json_string_value(json_array_get(json_object_get(fare, "entries"), 0)), "nb-011");
    json_decref(d);
    hml_buf_free(&md);
    hml_notebook_free(nb);
}

TEST(nb_summary_cuts_long_entries_to_the_limit)
{
    char *huge = repeat("ü", HML_NB_CONTENT_MAX);
    const char *tags[20];
    char names[20][80];
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof names[i], "%02d_%s", i, "a_long_tag_name_that_nearly_fills_sixty_four_characters");
        tags[i] = names[i];
    }
    struct hml_error err;
    struct hml_nb_receipt r;
    for (int t = 0; t < HML_NB_TYPES; t++)
        for (int k = 0; k < (t == HML_NB_FINDING ? 6 : 1); k++) {
            struct hml_nb_new in = {.type = (enum hml_nb_type)t, .content = huge, .tags = tags, .tags_n = 20};
            T_RC(hml_notebook_write(t_tmpdir(), &in, &r, &err), &err);
        }
    struct hml_notebook *nb = load();
    struct hml_buf md = HML_BUF_INIT;
    T_RC(hml_notebook_summary(nb, false, &md, NULL, &err), &err);
    const char *s = hml_buf_str(&md);
    T_OK(utf8_len(s) <= HML_NB_SUMMARY_MAX);
    T_CONTAINS(s, "## Theory · nb-001");
    T_CONTAINS(s, "chars: read --entry_id nb-001)");
    T_CONTAINS(s, "## Plan · nb-010");
    T_CONTAINS(s, "## Recent findings (5 of 6)");
    T_CONTAINS(s, "more (detail=full)");
    hml_buf_free(&md);
    T_RC(hml_notebook_summary(nb, true, &md, NULL, &err), &err);
    T_CONTAINS(hml_buf_str(&md), huge); /* full: uncut */
    T_OK(utf8_len(hml_buf_str(&md)) > 2 * HML_NB_CONTENT_MAX);
    hml_buf_free(&md);
    hml_notebook_free(nb);
    free(huge);
}

/* ---- damage: torn and unreadable lines ---------------------------------------------------------------------- */

TEST(nb_torn_last_line_is_ignored_and_repaired)
{
    hml_log_set_level(HML_LOG_ERROR); /* the warnings are expected */
    put(HML_NB_PLAN, "the plan", NULL);
    put(HML_NB_NOTE, "a note", NULL);
    size_t len0;
    char *before = slurp(&len0);
    const char *torn = "{\"id\":\"nb-003\",\"type\":\"finding\",\"content\":\"half writ";
    append_raw(torn);
    struct hml_notebook *nb = load();
    T_EQ(nb->n, 2);
    T_EQ(nb->torn_bytes, strlen(torn));
    T_EQ(nb->skipped, 0);
    hml_notebook_free(nb);

    struct hml_nb_receipt r = put(HML_NB_FINDING, "whole this time", NULL);
    T_STREQ(r.id, "nb-003");
    T_EQ(r.repaired_bytes, strlen(torn));
    size_t len;
    char *after = slurp(&len);
    T_OK(len > len0 && memcmp(before, after, len0) == 0); /* the good lines are kept byte for byte */
    T_OK(!strstr(after, "half writ"));
    T_EQ(count_lines(after), 3);
    T_OK(after[len - 1] == '\n');
    nb = load();
    T_EQ(nb->n, 3);
    T_EQ(nb->torn_bytes, 0);
    T_STREQ(nb->entries[2].content, "whole this time");
    hml_notebook_free(nb);
    hml_free(before);
    hml_free(after);

    /* A complete object without its newline was never committed either. */
    append_raw("{\"id\":\"nb-004\",\"type\":\"note\",\"content\":\"x\",\"tags\":[],"
               "\"created_at\":\"2026-03-09T12:00:00.000Z\"}");
    nb = load();
    T_EQ(nb->n, 3);
    T_OK(nb->torn_bytes > 0);
    hml_notebook_free(nb);
    struct hml_error err;
    T_RC(hml_notebook_strike(t_tmpdir(), "nb-002", "the strike repairs too", &r, &err), &err);
    T_OK(r.repaired_bytes > 0);
    nb = load();
    T_EQ(nb->torn_bytes, 0);
    T_EQ(nb->struck_n, 1);
    hml_notebook_free(nb);
}

TEST(nb_unreadable_lines_are_skipped_not_fatal)
{
    hml_log_set_level(HML_LOG_ERROR); /* the warnings are expected */
    put(HML_NB_PLAN, "the plan", NULL);
    append_raw("this is not json\n"
               "\n"
               "{\"id\":\"nb-002\",\"type\":\"guess\",\"content\":\"x\",\"created_at\":\"2026-03-09T12:00:00Z\"}\n"
               "{\"id\":\"nb-001\",\"type\":\"note\",\"content\":\"dup\",\"created_at\":\"2026-03-09T12:00:00Z\"}\n"
               "{\"strike\":\"nb-077\",\"reason\":\"nothing there\"}\n"
               "[1,2]\n");
    struct hml_nb_receipt r = put(HML_NB_NOTE, "still writable", NULL);
    T_STREQ(r.id, "nb-002");
    struct hml_notebook *nb = load();
    T_EQ(nb->n, 2);
    T_EQ(nb->skipped, 5); /* garbage, unknown type, duplicate id, dangling strike, array */
    T_STREQ(nb->entries[0].content, "the plan");
    hml_notebook_free(nb);
}

/* ---- concurrency -------------------------------------------------------------------------------------------- */

#define WRITERS 3
#define WRITES  40
#define PAD     3000 /* long lines: an interleaving would show as a mixed line */

TEST(nb_concurrent_writers_never_interleave)
{
    (void)t_tmpdir();
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        T_OK(pids[w] >= 0);
        if (pids[w] == 0) {
            char *content = malloc(PAD + 64);
            int bad = 0;
            for (int i = 0; i < WRITES; i++) {
                int k = snprintf(content, 64, "writer %d write %02d ", w, i);
                memset(content + k, 'a' + w, PAD);
                content[k + PAD] = 0;
                struct hml_nb_new in = {.type = HML_NB_NOTE, .content = content};
                struct hml_error err;
                bad |= hml_notebook_write(t_tmpdir(), &in, NULL, &err) != HML_OK;
            }
            free(content);
            _exit(bad);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int st;
        T_OK(waitpid(pids[w], &st, 0) == pids[w]);
        T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    struct hml_notebook *nb = load();
    T_EQ(nb->n, WRITERS * WRITES);
    T_EQ(nb->skipped, 0);
    T_EQ(nb->torn_bytes, 0);
    int next[WRITERS] = {0};
    for (size_t i = 0; i < nb->n; i++) {
        const struct hml_nb_entry *e = &nb->entries[i];
        T_EQ(e->seq, i + 1); /* sequential, no gaps, no repeats */
        int w, k;
        T_OK(sscanf(e->content, "writer %d write %d ", &w, &k) == 2 && w >= 0 && w < WRITERS);
        T_EQ(k, next[w]++); /* each writer's entries in its own order */
        const char *pad = strchr(e->content + 16, ' ') + 1;
        T_EQ(strspn(pad, (char[]){(char)('a' + w), 0}), PAD);
        if (i) T_OK(e->created_ms > nb->entries[i - 1].created_ms);
    }
    hml_notebook_free(nb);
}

/* ---- the experiment gates -------------------------------------------------------------------------------------- */

TEST(nb_latest_and_count_answer_the_experiment_gates)
{
    struct hml_error err;
    struct hml_nb_entry *e = NULL;
    size_t n;
    T_EQ(hml_notebook_latest(t_tmpdir(), HML_NB_PLAN, &e, &err), HML_ENOTFOUND);
    T_CONTAINS(err.hint, "notebook write --type plan");
    T_RC(hml_notebook_count(t_tmpdir(), HML_NB_PLAN, NULL, &n, &err), &err);
    T_EQ(n, 0);
    struct hml_nb_receipt p1 = put(HML_NB_PLAN, "plan one", "a");
    put(HML_NB_FINDING, "a finding", NULL);
    put(HML_NB_PLAN, "plan two", NULL);
    T_RC(hml_notebook_latest(t_tmpdir(), HML_NB_PLAN, &e, &err), &err);
    T_STREQ(e->id, "nb-003");
    T_STREQ(e->content, "plan two");
    hml_nb_entry_free(e);
    T_RC(hml_notebook_count(t_tmpdir(), HML_NB_PLAN, "nb-001", &n, &err), &err);
    T_EQ(n, 1);
    T_RC(hml_notebook_count(t_tmpdir(), HML_NB_PLAN, p1.created_at, &n, &err), &err);
    T_EQ(n, 1);
    T_RC(hml_notebook_count(t_tmpdir(), HML_NB_PLAN, "2000-01-01T00:00:00Z", &n, &err), &err);
    T_EQ(n, 2);
    T_RC(hml_notebook_count(t_tmpdir(), HML_NB_FINDING, "nb-002", &n, &err), &err);
    T_EQ(n, 0);
    T_EQ(hml_notebook_count(t_tmpdir(), HML_NB_PLAN, "last tuesday", &n, &err), HML_EINVAL);
    T_CONTAINS(err.hint, "nb-007");

    struct hml_nb_receipt r;
    T_RC(hml_notebook_strike(t_tmpdir(), "nb-003", "wrong", &r, &err), &err);
    T_RC(hml_notebook_latest(t_tmpdir(), HML_NB_PLAN, &e, &err), &err);
    T_STREQ(e->id, "nb-001"); /* a struck plan does not count */
    T_EQ(e->tags_n, 1);
    T_STREQ(e->tags[0], "a");
    hml_nb_entry_free(e);
    T_RC(hml_notebook_count(t_tmpdir(), HML_NB_PLAN, "nb-001", &n, &err), &err);
    T_EQ(n, 0);
    T_RC(hml_notebook_strike(t_tmpdir(), "nb-001", "also wrong", &r, &err), &err);
    T_EQ(hml_notebook_latest(t_tmpdir(), HML_NB_PLAN, &e, &err), HML_ENOTFOUND);
    T_CONTAINS(err.message, "not struck");
}

/* ---- out of memory --------------------------------------------------------------------------------------------- */

TEST(nb_load_survives_every_allocation_failure)
{
    hml_log_set_level(HML_LOG_ERROR); /* the torn line would warn on every pass */
    put(HML_NB_PLAN, "plan", "a,b");
    put(HML_NB_FINDING, "finding with ü", "b");
    struct hml_nb_new in = {.type = HML_NB_NOTE, .content = "note", .experiment_id = "exp-001",
                            .auto_tags = (const char *[]){"c"}, .auto_tags_n = 1};
    struct hml_error err;
    T_RC(hml_notebook_write(t_tmpdir(), &in, NULL, &err), &err);
    T_RC(hml_notebook_strike(t_tmpdir(), "nb-002", "why", NULL, &err), &err);
    for (int i = 0; i < 20; i++) put(HML_NB_NOTE, "filler that makes the entries array grow", "c"); /* realloc */
    append_raw("{\"id\":\"nb-0");                                                                 /* torn */
    size_t base = hml_alloc_live_bytes();
    for (uint64_t k = 1; k < 100000; k++) {
        struct hml_notebook *nb = NULL;
        hml_error_clear(&err);
        hml_alloc_fail_at(k);
        enum hml_status rc = hml_notebook_load(t_tmpdir(), &nb, &err);
        int fired = hml_alloc_failed();
        hml_alloc_fail_at(0);
        if (rc) {
            T_OK(fired);
            T_EQ(rc, HML_ENOMEM);
            T_OK(err.message[0] != 0);
            T_OK(nb == NULL);
        } else {
            T_EQ(nb->n, 23); /* never a partial notebook */
            T_EQ(nb->struck_n, 1);
            T_EQ(nb->skipped, 0);
        }
        hml_notebook_free(nb);
        T_EQ(hml_alloc_live_bytes(), base);
        if (!fired) {
            T_EQ(rc, HML_OK);
            T_OK(k > 100);
            return;
        }
    }
    T_OK(!"allocation sweep did not finish");
}

TEST(nb_summary_and_search_survive_allocation_failures)
{
    put(HML_NB_THEORY, "theory", "x,y");
    put(HML_NB_PLAN, "plan", "y");
    put(HML_NB_FINDING, "finding", "z");
    struct hml_notebook *nb = load();
    size_t base = hml_alloc_live_bytes();
    bool done_summary = false, done_search = false;
    for (uint64_t k = 1; k < 10000 && !(done_summary && done_search); k++) {
        struct hml_error err;
        struct hml_buf md = HML_BUF_INIT;
        json_t *d = NULL;
        hml_alloc_fail_at(k);
        enum hml_status rc = hml_notebook_summary(nb, false, &md, &d, &err);
        int fired = hml_alloc_failed();
        hml_alloc_fail_at(0);
        if (rc) T_EQ(rc, HML_ENOMEM);
        else T_EQ(json_array_size(json_object_get(d, "entities")), 3);
        done_summary |= !fired;
        json_decref(d);
        hml_buf_free(&md);
        struct hml_nb_hit *hits = NULL;
        size_t n;
        hml_alloc_fail_at(k);
        rc = hml_notebook_search(nb, "i", NULL, &hits, &n, &err);
        fired = hml_alloc_failed();
        hml_alloc_fail_at(0);
        if (rc) T_EQ(rc, HML_ENOMEM);
        else T_EQ(n, 1);
        done_search |= !fired;
        hml_free(hits);
        T_EQ(hml_alloc_live_bytes(), base);
    }
    T_OK(done_summary && done_search);
    hml_notebook_free(nb);
}
