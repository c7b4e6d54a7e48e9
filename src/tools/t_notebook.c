/* t_notebook.c — the `notebook` tool: the agent's research notebook (core/science/notebook).
 *
 * The notebook is the agent's memory across sessions, so `summary` is what it reads
 * first, and it must stay short. Writes tag entries automatically with the project's
 * names that the content mentions (models, their features, the target and key columns,
 * experiment ids), so the entity index works even when the agent forgets to tag. */
#include "tools_int.h"

#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "harness/alloc.h"
#include "harness/io.h"
#include "harness/notebook.h"

#define PER_PAGE_DEFAULT 10
#define PER_PAGE_MAX     50
#define PAGE_MAX         100000
#define PREVIEW_CHARS    240 /* of each entry's content in read and search, unless detail=full */
#define NAMES_MAX        512 /* project names scanned for auto tags                              */
#define TABLE_NAMES_MAX  ((off_t)16 << 20) /* bytes of a table file read just for its column names */

/* ---- shared ------------------------------------------------------------------------------- */

/* Opens the project (so a typo in project_dir is not_found, not an empty notebook) and
 * loads the notebook; says in res what load had to ignore. */
static enum hml_status open_nb(struct hml_call *call, struct hml_result *res, struct hml_project **p,
                               struct hml_notebook **nb, struct hml_error *err)
{
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, p, err);
    if (rc) return rc;
    rc = hml_notebook_load((*p)->dir, nb, err);
    if (rc) {
        hml__project_free(*p);
        return rc;
    }
    if ((*nb)->torn_bytes)
        hml_result_warn(res, "the last line of %s is incomplete (%zu bytes left by an interrupted write); it is "
                             "ignored and the next write removes it", HML_NB_REL, (*nb)->torn_bytes);
    if ((*nb)->skipped)
        hml_result_warn(res, "%zu line(s) of %s could not be read and were skipped (details on stderr)",
                        (*nb)->skipped, HML_NB_REL);
    return HML_OK;
}

static void close_nb(struct hml_project *p, struct hml_notebook *nb)
{
    hml_notebook_free(nb);
    hml__project_free(p);
}

/* Copies a string list param into a borrowed array of C strings (at most cap). */
static size_t strs_of(const json_t *arr, const char **out, size_t cap)
{
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(arr, i, v) if (n < cap && json_is_string(v)) out[n++] = json_string_value(v);
    return n;
}

static void put_tags(struct hml_buf *b, char *const *tags, size_t n, const char *lead)
{
    for (size_t i = 0; i < n; i++) hml_buf_printf(b, "%s%s", i ? ", " : lead, tags[i]);
}

/* "### nb-007 · plan · 2026-03-09 12:34 · exp-003 · tags: a, b" and the content. */
static void put_entry(struct hml_buf *b, const struct hml_nb_entry *e, size_t preview)
{
    hml_buf_printf(b, "### %s · %s · %.10s %.5s", e->id, hml_nb_type_names[e->type], e->created_at,
                   e->created_at + 11);
    if (e->experiment_id) hml_buf_printf(b, " · %s", e->experiment_id);
    put_tags(b, e->tags, e->tags_n, " · tags: ");
    put_tags(b, e->auto_tags, e->auto_tags_n, e->tags_n ? " · auto: " : " · auto tags: ");
    hml_buf_putc(b, '\n');
    if (e->struck) hml_buf_printf(b, "~~struck %.10s: %s~~\n", e->struck_at, e->strike_reason);
    size_t len = strlen(e->content), i = 0, chars = 0;
    while (i < len && !(((unsigned char)e->content[i] & 0xC0) != 0x80 && chars++ == preview)) i++;
    hml_buf_append(b, e->content, i);
    if (i < len) hml_buf_printf(b, "… (cut; read --entry_id %s shows it all)", e->id);
    hml_buf_puts(b, "\n\n");
}

static bool page_params(struct hml_call *call, size_t *page, size_t *per_page, struct hml_error *err)
{
    long long pg = hml_param_int(call, "page", 1), pp = hml_param_int(call, "per_page", PER_PAGE_DEFAULT);
    if (pg < 1 || pg > PAGE_MAX) {
        hml_fail(err, HML_EINVAL, call->action->name, "page %lld is out of range", pg);
        hml_hint(err, "pages count from 1");
        return false;
    }
    if (pp < 1 || pp > PER_PAGE_MAX) {
        hml_fail(err, pp < 1 ? HML_EINVAL : HML_ELIMIT, call->action->name, "per_page %lld is out of range", pp);
        hml_hint(err, "pass per_page from 1 to %d and use page for the rest", PER_PAGE_MAX);
        return false;
    }
    *page = (size_t)pg;
    *per_page = (size_t)pp;
    return true;
}

/* ---- write -------------------------------------------------------------------------------- */

static bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Does `text` mention `name` as a whole word (ignoring case)? */
static bool mentions(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; (p = strcasestr(p, name)); p++)
        if ((p == text || !word_char(p[-1])) && !word_char(p[n])) return true;
    return false;
}

static void add_name(const char **names, size_t *n, const char *s)
{
    if (!s || strlen(s) < 3 || *n >= NAMES_MAX) return; /* "id", "y": too common to mean the column */
    for (size_t i = 0; i < *n; i++)
        if (!strcasecmp(names[i], s)) return;
    names[(*n)++] = s;
}

static void add_names(const char **names, size_t *n, const json_t *v)
{
    if (json_is_string(v)) add_name(names, n, json_string_value(v));
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) add_name(names, n, json_string_value(x));
}

/* Names the project knows: models and their features, declared features and views,
 * the target, key, time and fold columns. Borrowed from root. */
static size_t project_names(const json_t *root, const char **names)
{
    size_t n = 0;
    const json_t *data = json_object_get(root, "data");
    static const char *const cols[] = {"target_column", "key_columns", "time_column", "fold_column"};
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++) add_names(names, &n, json_object_get(data, cols[i]));
    add_names(names, &n, json_object_get(json_object_get(root, "backtest"), "fold_column"));
    static const char *const sections[] = {"models", "features", "views"};
    for (size_t s = 0; s < sizeof sections / sizeof *sections; s++) {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(root, sections[s]), k, v) {
            add_name(names, &n, k);
            add_names(names, &n, json_object_get(v, "features"));
        }
    }
    return n;
}

/* The prediction table, when it is small enough that reading it for its column names
 * costs little next to the write; NULL otherwise. */
static struct hml_frame *small_table(const struct hml_project *p)
{
    char *path = hml__project_path(p, HML_TABLE_FILE);
    struct stat st;
    struct hml_frame *f = NULL;
    struct hml_error ignored;
    if (path && !stat(path, &st) && st.st_size <= TABLE_NAMES_MAX && hml_frame_load(path, &f, &ignored)) f = NULL;
    hml_free(path);
    return f;
}

/* Experiment ids the content cites ("exp-003"), as auto tags (heap; caller frees). */
static size_t cited_experiments(const char *text, char **out, size_t cap)
{
    size_t n = 0;
    for (const char *p = text; n < cap && (p = strcasestr(p, "exp-")); p += 4) {
        size_t d = 0;
        while (p[4 + d] >= '0' && p[4 + d] <= '9') d++;
        if (!d || d > 9 || (p > text && word_char(p[-1])) || word_char(p[4 + d])) continue;
        char id[16];
        snprintf(id, sizeof id, "exp-%.*s", (int)d, p + 4);
        bool seen = false;
        for (size_t i = 0; i < n; i++) seen |= !strcmp(out[i], id);
        if (!seen && (out[n] = hml_strdup(id))) n++;
    }
    return n;
}

static void warn_unknown_experiment(const struct hml_project *p, const char *xid, struct hml_result *res)
{
    char rel[128];
    snprintf(rel, sizeof rel, "experiments/%s", xid);
    char *path = hml__project_path(p, rel);
    if (path && !hml_path_exists(path))
        hml_result_warn(res, "there is no experiment '%s' in experiments/ (yet); the entry cites it anyway", xid);
    hml_free(path);
}

static void report_written(struct hml_call *call, const struct hml_nb_receipt *r, struct hml_result *res)
{
    struct hml_notebook *nb = NULL;
    struct hml_error lerr;
    const struct hml_nb_entry *e = NULL;
    if (!hml_notebook_load(call->project_dir, &nb, &lerr)) e = hml_notebook_find(nb, r->id);
    hml_buf_printf(&res->text, "Wrote %s (%s)", r->id, hml_param_str(call, "type", "?"));
    if (e) {
        put_tags(&res->text, e->tags, e->tags_n, " · tags: ");
        put_tags(&res->text, e->auto_tags, e->auto_tags_n, " · auto tags: ");
        json_object_set_new(res->data, "entry", hml_nb_entry_json(e));
    }
    hml_buf_puts(&res->text, ".\n");
    if (e && e->type == HML_NB_PLAN) hml_buf_puts(&res->text, "Experiments may start from this plan.\n");
    json_object_set_new(res->data, "id", json_string(r->id));
    if (r->repaired_bytes) {
        hml_result_warn(res, "removed an incomplete last line (%zu bytes) that an interrupted write had left",
                        r->repaired_bytes);
        json_object_set_new(res->data, "repaired_bytes", json_integer((json_int_t)r->repaired_bytes));
    }
    hml_notebook_free(nb);
}

static enum hml_status a_write(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_nb_new in = {.content = hml_param_str(call, "content", ""),
                            .experiment_id = hml_param_str(call, "experiment_id", NULL)};
    enum hml_status rc = hml_nb_type_parse(hml_param_str(call, "type", ""), &in.type, err);
    struct hml_project *p = NULL;
    if (!rc) rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    const json_t *given = hml_param_json(call, "tags");
    size_t ng = json_array_size(given);
    const char **tags = ng ? hml_calloc(ng, sizeof *tags) : NULL; /* all of them: the core counts and refuses */
    if (ng && !tags) rc = hml_fail(err, HML_ENOMEM, "notebook.write", "out of memory");
    in.tags = tags;
    in.tags_n = tags ? strs_of(given, tags, ng) : 0;
    const char **names = rc ? NULL : hml_calloc(NAMES_MAX, sizeof *names);
    char *cited[HML_NB_TAGS_MAX];
    const char *autos[2 * HML_NB_TAGS_MAX + 1];
    size_t na = 0, nc = 0;
    if (!rc && !names) rc = hml_fail(err, HML_ENOMEM, "notebook.write", "out of memory");
    if (!rc && in.experiment_id) autos[na++] = in.experiment_id;
    nc = rc ? 0 : cited_experiments(in.content, cited, HML_NB_TAGS_MAX);
    for (size_t i = 0; i < nc; i++) autos[na++] = cited[i];
    struct hml_frame *table = rc ? NULL : small_table(p);
    size_t nn = rc ? 0 : project_names(p->cfg->root, names);
    for (size_t j = 0; table && j < table->ncols; j++) add_name(names, &nn, table->names[j]);
    for (size_t i = 0; i < nn && na < 2 * HML_NB_TAGS_MAX; i++)
        if (mentions(in.content, names[i])) autos[na++] = names[i];
    in.auto_tags = autos;
    in.auto_tags_n = na;
    struct hml_nb_receipt r;
    if (!rc) rc = hml_notebook_write(p->dir, &in, &r, err);
    if (!rc) {
        report_written(call, &r, res);
        if (in.experiment_id) warn_unknown_experiment(p, in.experiment_id, res);
    }
    for (size_t i = 0; i < nc; i++) hml_free(cited[i]);
    hml_frame_free(table);
    hml_free(names);
    hml_free(tags);
    hml__project_free(p);
    return rc;
}

/* ---- read and search ------------------------------------------------------------------------- */

static enum hml_status read_one(struct hml_call *call, const struct hml_notebook *nb, struct hml_result *res,
                                struct hml_error *err)
{
    const struct hml_nb_entry *e;
    enum hml_status rc = hml_notebook_lookup(nb, hml_param_str(call, "entry_id", ""), &e, err);
    if (rc) return rc;
    put_entry(&res->text, e, HML_NB_CONTENT_MAX);
    json_object_set_new(res->data, "entry", hml_nb_entry_json(e));
    return HML_OK;
}

static enum hml_status build_filter(struct hml_call *call, struct hml_nb_filter *f, const char **tags,
                                    struct hml_error *err)
{
    memset(f, 0, sizeof *f);
    f->include_struck = hml_param_bool(call, "include_struck", false);
    if (hml_param_has(call, "type")) {
        enum hml_nb_type t;
        enum hml_status rc = hml_nb_type_parse(hml_param_str(call, "type", ""), &t, err);
        if (rc) return rc;
        f->types = 1u << t;
    }
    f->tags = tags;
    f->tags_n = strs_of(hml_param_json(call, "tags"), tags, HML_NB_TAGS_MAX);
    return HML_OK;
}

static enum hml_status a_read(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    struct hml_notebook *nb;
    enum hml_status rc = open_nb(call, res, &p, &nb, err);
    if (rc) return rc;
    struct hml_nb_filter f;
    const char *tags[HML_NB_TAGS_MAX];
    size_t page = 1, per = PER_PAGE_DEFAULT, total = 0;
    if (hml_param_has(call, "entry_id")) rc = read_one(call, nb, res, err);
    else if (!(rc = build_filter(call, &f, tags, err)) && !page_params(call, &page, &per, err)) rc = err->code;
    if (rc || hml_param_has(call, "entry_id")) {
        close_nb(p, nb);
        return rc;
    }
    const struct hml_nb_entry *got[PER_PAGE_MAX];
    size_t k = hml_notebook_select(nb, &f, (page - 1) * per, per, got, &total);
    size_t pages = (total + per - 1) / per, hidden = 0;
    for (size_t i = 0; i < nb->n && !f.include_struck; i++) {
        struct hml_nb_filter g = f;
        g.include_struck = true;
        hidden += nb->entries[i].struck && hml_nb_filter_match(&g, &nb->entries[i]);
    }
    bool full = !strcmp(hml_param_str(call, "detail", "summary"), "full");
    struct hml_buf *t = &res->text;
    if (!total) hml_buf_puts(t, nb->n ? "No entries match." : "The notebook is empty: notebook write --type plan …");
    else if (!k) hml_buf_printf(t, "Page %zu is past the last page (%zu).", page, pages);
    else hml_buf_printf(t, "Page %zu of %zu · %zu entr%s, newest first", page, pages, total, total == 1 ? "y" : "ies");
    if (hidden) hml_buf_printf(&res->text, " · %zu struck hidden (include_struck=true shows them)", hidden);
    hml_buf_puts(&res->text, "\n\n");
    json_t *list = json_array();
    for (size_t i = 0; i < k; i++) {
        put_entry(&res->text, got[i], full ? HML_NB_CONTENT_MAX : PREVIEW_CHARS);
        json_array_append_new(list, hml_nb_entry_json(got[i]));
    }
    json_object_set_new(res->data, "entries", list);
    json_object_set_new(res->data, "total", json_integer((json_int_t)total));
    json_object_set_new(res->data, "page", json_integer((json_int_t)page));
    json_object_set_new(res->data, "per_page", json_integer((json_int_t)per));
    json_object_set_new(res->data, "pages", json_integer((json_int_t)pages));
    json_object_set_new(res->data, "struck_hidden", json_integer((json_int_t)hidden));
    close_nb(p, nb);
    return HML_OK;
}

/* About 120 characters of s around its first case-insensitive match of q. */
static void snippet(struct hml_buf *b, const char *s, const char *q)
{
    const char *m = strcasestr(s, q);
    size_t at = m ? (size_t)(m - s) : 0, from = at > 40 ? at - 40 : 0;
    while (from > 0 && ((unsigned char)s[from] & 0xC0) == 0x80) from--;
    size_t len = strlen(s + from), to = len > 120 ? 120 : len;
    while (to < len && ((unsigned char)s[from + to] & 0xC0) == 0x80) to++;
    hml_buf_puts(b, from ? "…" : "");
    for (size_t i = 0; i < to; i++) hml_buf_putc(b, s[from + i] == '\n' ? ' ' : s[from + i]);
    hml_buf_puts(b, to < len ? "…" : "");
}

static enum hml_status a_search(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    struct hml_notebook *nb;
    enum hml_status rc = open_nb(call, res, &p, &nb, err);
    if (rc) return rc;
    struct hml_nb_filter f;
    const char *tags[HML_NB_TAGS_MAX];
    size_t page = 1, per = PER_PAGE_DEFAULT, n = 0;
    struct hml_nb_hit *hits = NULL;
    const char *q = hml_param_str(call, "query", "");
    rc = build_filter(call, &f, tags, err);
    if (!rc && !page_params(call, &page, &per, err)) rc = err->code;
    if (!rc) rc = hml_notebook_search(nb, q, &f, &hits, &n, err);
    if (!rc) {
        hml_buf_printf(&res->text, "%zu entr%s match '%s'%s\n\n", n, n == 1 ? "y" : "ies", q,
                       n ? " (most matches first, then newest)" : "; try a shorter word or notebook summary");
        json_t *list = json_array();
        for (size_t i = (page - 1) * per; i < n && i < page * per; i++) {
            const struct hml_nb_entry *e = hits[i].entry;
            hml_buf_printf(&res->text, "- %s · %s · %zu match%s: ", e->id, hml_nb_type_names[e->type],
                           hits[i].matches, hits[i].matches == 1 ? "" : "es");
            snippet(&res->text, e->content, q);
            hml_buf_putc(&res->text, '\n');
            json_t *j = hml_nb_entry_json(e);
            json_object_set_new(j, "matches", json_integer((json_int_t)hits[i].matches));
            json_array_append_new(list, j);
        }
        if (n > page * per) hml_buf_printf(&res->text, "… %zu more (page=%zu)\n", n - page * per, page + 1);
        json_object_set_new(res->data, "query", json_string(q));
        json_object_set_new(res->data, "total", json_integer((json_int_t)n));
        json_object_set_new(res->data, "page", json_integer((json_int_t)page));
        json_object_set_new(res->data, "hits", list);
    }
    hml_free(hits);
    close_nb(p, nb);
    return rc;
}

/* ---- strike and summary -------------------------------------------------------------------------- */

static enum hml_status a_strike(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    struct hml_nb_receipt r;
    const char *reason = hml_param_str(call, "reason", "");
    rc = hml_notebook_strike(p->dir, hml_param_str(call, "entry_id", ""), reason, &r, err);
    if (!rc) {
        hml_buf_printf(&res->text, "Struck %s: %s\nIt stays in the file; read include_struck=true shows it.\n", r.id,
                       reason);
        json_object_set_new(res->data, "id", json_string(r.id));
        json_object_set_new(res->data, "reason", json_string(reason));
        json_object_set_new(res->data, "struck_at", json_string(r.created_at));
        if (r.repaired_bytes)
            hml_result_warn(res, "removed an incomplete last line (%zu bytes) that an interrupted write had left",
                            r.repaired_bytes);
    }
    hml__project_free(p);
    return rc;
}

static enum hml_status a_summary(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    struct hml_notebook *nb;
    enum hml_status rc = open_nb(call, res, &p, &nb, err);
    if (rc) return rc;
    json_t *d = NULL;
    rc = hml_notebook_summary(nb, !strcmp(hml_param_str(call, "detail", "summary"), "full"), &res->text, &d, err);
    if (!rc) json_object_update(res->data, d);
    json_decref(d);
    close_nb(p, nb);
    return rc;
}

/* ---- the tool table -------------------------------------------------------------------------------- */

static const struct hml_param params[] = {
    {"type", HML_P_STRING, "theory|finding|research|decision|plan|note|phase_transition", "entry type"},
    {"content", HML_P_STRING, NULL, "the entry text (≤ 20,000 characters)"},
    {"tags", HML_P_STRINGS, NULL, "short names it is about (≤ 20); read: entries with all of them"},
    {"experiment_id", HML_P_STRING, NULL, "the experiment it belongs to"},
    {"entry_id", HML_P_STRING, NULL, "an entry id, e.g. nb-007"},
    {"reason", HML_P_STRING, NULL, "why the entry is struck"},
    {"query", HML_P_STRING, NULL, "text to find (ignores case)"},
    {"page", HML_P_INTEGER, NULL, "page number, from 1"},
    {"per_page", HML_P_INTEGER, NULL, "entries per page (default 10, ≤ 50)"},
    {"include_struck", HML_P_BOOLEAN, NULL, "also show struck entries"},
    {"detail", HML_P_STRING, "summary|full", "full: no cuts"},
    {0},
};

static const struct hml_action actions[] = {
    {"write", a_write, "type content tags experiment_id", "type content", "add an entry", 0},
    {"read", a_read, "type tags entry_id page per_page include_struck detail", NULL, "entries, newest first",
     HML_ACT_READONLY},
    {"search", a_search, "query type tags page per_page include_struck", "query", "entries that mention a text",
     HML_ACT_READONLY},
    {"strike", a_strike, "entry_id reason", "entry_id reason", "retract an entry (kept in the file)", 0},
    {"summary", a_summary, "detail", NULL, "where the research stands: read this first", HML_ACT_READONLY},
    {0},
};

const struct hml_tool hml_tool_notebook = {
    .name = "notebook",
    .title = "research notebook",
    .description =
        "The research notebook: your memory across sessions. Start each session with summary (latest theory and "
        "plan, recent findings, entity index). Actions: write (type theory|finding|research|decision|plan|note|"
        "phase_transition, content, tags, experiment_id; experiments need a plan), read (type, tags, entry_id, "
        "page, per_page; newest first), search (query; most matches first), strike (entry_id, reason; retracts "
        "without deleting), summary (detail=full for more).",
    .params = params,
    .actions = actions,
};
