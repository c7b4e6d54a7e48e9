/* view_dag.c — the views of a project: the graph check (unknown names, cycles, depth),
 * sources read through the io module, fingerprints, and materialisation through a cache of
 * .hfr frame files keyed by fingerprint. Cache files are queued and written by
 * hml_views_flush, so an action that fails after computing leaves nothing behind. */
#include "view_int.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness/alloc.h"
#include "harness/buf.h"
#include "harness/config.h"
#include "harness/fsx.h"
#include "harness/io.h"

#define ENGINE_VERSION "hml-view-2"
#define OUTCOMES_MAX 256u
#define NULL_TOKENS_MAX 64u

static uint64_t computations; /* process-wide; atomic builtins */

uint64_t hml_view_computations(void) { return __atomic_load_n(&computations, __ATOMIC_RELAXED); }

/* One node (view or source) as the handle has seen it. */
struct node {
    char name[HML_VIEW_NAME_MAX + 1];
    bool is_view;
    char fp[65];               /* "" until computed */
    struct hml_frame *frame;   /* materialised, or NULL */
    struct hml_frame *schema;  /* zero rows, or NULL */
    bool busy;                 /* on the current path (a guard; the graph check rules cycles out) */
};

struct pending {
    char *path;
    char name[HML_VIEW_NAME_MAX + 16];
    char *dir;
    struct hml_frame *frame;
};

struct hml_views {
    char *dir;
    const json_t *root, *views, *sources;
    const char *target;
    const char *outcomes[OUTCOMES_MAX];
    size_t outcomes_n;
    struct node **nodes; /* each allocated on its own: pointers stay valid as the list grows */
    size_t nnodes, cap;
    struct pending *pend;
    size_t npend;
    json_t *computed, *loaded, *warnings;
};

/* ---- the graph ------------------------------------------------------------------------------ */

static bool valid_name(const char *s)
{
    if (!*s || strlen(s) > HML_VIEW_NAME_MAX) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return false;
    return true;
}

/* The names a view reads: its source, then each join/union `other`. */
static size_t view_refs(const json_t *def, const char **out, size_t cap)
{
    size_t n = 0;
    const char *src = hml_json_str(def, "source", NULL);
    if (src && cap) out[n++] = src;
    const json_t *steps = json_object_get(def, "steps");
    if (json_is_array(steps)) {
        const char *more[HML_VIEW_STEPS_MAX];
        size_t m = hml_view_step_refs(steps, more, HML_VIEW_STEPS_MAX);
        for (size_t i = 0; i < m && n < cap; i++) {
            bool dup = false;
            for (size_t k = 0; k < n; k++) dup |= !strcmp(out[k], more[i]);
            if (!dup) out[n++] = more[i];
        }
    }
    return n;
}

static enum hml_status unknown_ref(const json_t *root, const char *view, const char *ref, struct hml_error *err)
{
    const json_t *views = json_object_get(root, "views"), *sources = json_object_get(root, "sources");
    const char *names[HML_VIEW_VIEWS_MAX + 64];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)sources, k, v) if (n < HML_VIEW_VIEWS_MAX + 64) names[n++] = k;
    json_object_foreach((json_t *)views, k, v) if (n < HML_VIEW_VIEWS_MAX + 64 && strcmp(k, view)) names[n++] = k;
    hml_fail(err, HML_ENOTFOUND, "view", "view '%s' reads '%s', which is neither a source nor a view", view, ref);
    if (!n) return hml_hint(err, "register data first: data add_source --name <name> --data_path <file>");
    return hml_error_choices(err, ref, names, n);
}

struct walk {
    const json_t *root, *views;
    const char *path[HML_VIEW_DEPTH_MAX + 2];
    size_t depth;
    json_t *done; /* names fully checked */
};

/* Depth-first over the views `name` reads; *height = the longest chain of views ending at
 * it (1 for a view over sources only). */
static enum hml_status walk(struct walk *w, const char *name, size_t *height, struct hml_error *err)
{
    for (size_t i = 0; i < w->depth; i++) {
        if (strcmp(w->path[i], name)) continue;
        struct hml_buf b = HML_BUF_INIT;
        for (size_t k = i; k < w->depth; k++) hml_buf_printf(&b, "%s → ", w->path[k]);
        hml_buf_puts(&b, name);
        hml_fail(err, HML_EINVAL, "view", "views form a cycle: %s", hml_buf_str(&b));
        hml_buf_free(&b);
        return hml_hint(err, "a view cannot read itself, directly or through others; point one of them at a "
                             "source or another view");
    }
    const json_t *known = json_object_get(w->done, name);
    if (known) return *height = (size_t)json_integer_value(known), HML_OK;
    if (w->depth > HML_VIEW_DEPTH_MAX) {
        /* The recursion itself stays bounded: the chain is too long whatever comes next. */
        hml_fail(err, HML_ELIMIT, "view", "view '%s' sits in a chain of more than %u views", w->path[0],
                 HML_VIEW_DEPTH_MAX);
        return hml_hint(err, "merge some of the views in the chain (HML_VIEW_DEPTH_MAX)");
    }
    const json_t *def = json_object_get(w->views, name);
    const char *refs[HML_VIEW_STEPS_MAX + 1];
    size_t n = view_refs(def, refs, HML_VIEW_STEPS_MAX + 1), h = 1;
    w->path[w->depth++] = name;
    enum hml_status rc = HML_OK;
    for (size_t i = 0; !rc && i < n; i++) {
        size_t sub = 0;
        if (json_object_get(w->views, refs[i])) rc = walk(w, refs[i], &sub, err);
        else if (!json_object_get(json_object_get(w->root, "sources"), refs[i])) rc = unknown_ref(w->root, name, refs[i], err);
        if (sub + 1 > h) h = sub + 1;
    }
    w->depth--;
    if (!rc && h > HML_VIEW_DEPTH_MAX) {
        hml_fail(err, HML_ELIMIT, "view", "view '%s' ends a chain of %zu views; the limit is %u", name, h,
                 HML_VIEW_DEPTH_MAX);
        rc = hml_hint(err, "merge some of the views in the chain (HML_VIEW_DEPTH_MAX)");
    }
    if (!rc) json_object_set_new(w->done, name, json_integer((json_int_t)h));
    *height = h;
    return rc;
}

static enum hml_status check_def(const char *name, const json_t *def, struct hml_error *err)
{
    if (!valid_name(name)) {
        hml_fail(err, HML_EINVAL, "view", "view name '%s' must have 1 to %u letters, digits, '_' or '-'", name,
                 HML_VIEW_NAME_MAX);
        return hml_hint(err, "rename the view, e.g. 'team_form'");
    }
    if (!json_is_object(def) || !hml_json_str(def, "source", NULL)) {
        hml_fail(err, HML_EINVAL, "view", "view '%s' has no source", name);
        return hml_hint(err, "each view is {source: <source or view name>, steps: [...], description?}");
    }
    const json_t *steps = json_object_get(def, "steps");
    if (steps && !json_is_array(steps)) {
        hml_fail(err, HML_EINVAL, "view", "the steps of view '%s' must be a list", name);
        return hml_hint(err, "e.g. steps: [{op: filter, expr: \"season >= 2010\"}]");
    }
    return HML_OK;
}

enum hml_status hml_views_check_graph(const json_t *root, struct hml_error *err)
{
    const json_t *views = json_object_get(root, "views");
    if (json_object_size(views) > HML_VIEW_VIEWS_MAX) {
        hml_fail(err, HML_ELIMIT, "view", "the project has %zu views; the limit is %u", json_object_size(views),
                 HML_VIEW_VIEWS_MAX);
        return hml_hint(err, "remove views no longer used (data remove_view)");
    }
    struct walk w = {.root = root, .views = views, .done = json_object()};
    if (!w.done) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    const char *name;
    json_t *def;
    enum hml_status rc = HML_OK;
    json_object_foreach((json_t *)views, name, def) {
        size_t h;
        rc = check_def(name, def, err);
        if (!rc) rc = walk(&w, name, &h, err);
        if (rc) break;
    }
    json_decref(w.done);
    return rc;
}

/* ---- the handle ---------------------------------------------------------------------------------- */

static void add_outcome(struct hml_views *v, const char *name)
{
    if (!name || v->outcomes_n >= OUTCOMES_MAX) return;
    for (size_t i = 0; i < v->outcomes_n; i++)
        if (!strcmp(v->outcomes[i], name)) return;
    v->outcomes[v->outcomes_n++] = name;
}

enum hml_status hml_views_open(const char *project_dir, const json_t *root,
                               struct hml_views **out, struct hml_error *err)
{
    enum hml_status rc = hml_views_check_graph(root, err);
    if (rc) return rc;
    struct hml_views *v = hml_calloc(1, sizeof *v);
    if (!v || !(v->dir = hml_strdup(project_dir)) || !(v->computed = json_array()) || !(v->loaded = json_array()) ||
        !(v->warnings = json_array())) {
        hml_views_free(v);
        return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    }
    v->root = root;
    v->views = json_object_get(root, "views");
    v->sources = json_object_get(root, "sources");
    const json_t *data = json_object_get(root, "data");
    v->target = hml_json_str(data, "target_column", NULL);
    add_outcome(v, v->target);
    const char *k;
    json_t *t;
    json_object_foreach(json_object_get(data, "targets"), k, t) add_outcome(v, hml_json_str(t, "target_column", NULL));
    size_t i;
    json_array_foreach(json_object_get(json_object_get(root, "guardrails"), "feature_leakage_denylist"), i, t)
        add_outcome(v, json_string_value(t));
    *out = v;
    return HML_OK;
}

void hml_views_free(struct hml_views *v)
{
    if (!v) return;
    for (size_t i = 0; i < v->nnodes; i++) {
        hml_frame_free(v->nodes[i]->frame);
        hml_frame_free(v->nodes[i]->schema);
        hml_free(v->nodes[i]);
    }
    for (size_t i = 0; i < v->npend; i++) {
        hml_free(v->pend[i].path);
        hml_free(v->pend[i].dir);
        hml_frame_free(v->pend[i].frame);
    }
    hml_free(v->pend);
    hml_free(v->nodes);
    json_decref(v->computed);
    json_decref(v->loaded);
    json_decref(v->warnings);
    hml_free(v->dir);
    hml_free(v);
}

const json_t *hml_views_computed(const struct hml_views *v) { return v->computed; }
const json_t *hml_views_loaded(const struct hml_views *v) { return v->loaded; }
const json_t *hml_views_warnings(const struct hml_views *v) { return v->warnings; }

/* The node for a name (view first, then source), created on first use. */
static enum hml_status node_of(struct hml_views *v, const char *name, struct node **out, struct hml_error *err)
{
    for (size_t i = 0; i < v->nnodes; i++)
        if (!strcmp(v->nodes[i]->name, name)) return *out = v->nodes[i], HML_OK;
    bool is_view = json_object_get(v->views, name) != NULL;
    if (!is_view && !json_object_get(v->sources, name)) {
        const char *names[HML_VIEW_VIEWS_MAX + 64];
        size_t n = 0;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v->views, k, x) if (n < HML_VIEW_VIEWS_MAX) names[n++] = k;
        json_object_foreach((json_t *)v->sources, k, x) if (n < HML_VIEW_VIEWS_MAX + 64) names[n++] = k;
        hml_fail(err, HML_ENOTFOUND, "view", "no view or source named '%s'", name);
        if (!n) return hml_hint(err, "add one first: data add_view --name <name> --source <source> --steps '[...]'");
        return hml_error_choices(err, name, names, n);
    }
    if (strlen(name) > HML_VIEW_NAME_MAX) {
        hml_fail(err, HML_EINVAL, "view", "the name '%.40s…' is too long", name);
        return hml_hint(err, "use names of at most %u characters", HML_VIEW_NAME_MAX);
    }
    if (v->nnodes == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        struct node **list = hml_realloc(v->nodes, cap * sizeof *list);
        if (!list) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
        v->nodes = list;
        v->cap = cap;
    }
    struct node *n = hml_calloc(1, sizeof *n);
    if (!n) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    v->nodes[v->nnodes++] = n;
    snprintf(n->name, sizeof n->name, "%s", name);
    n->is_view = is_view;
    *out = n;
    return HML_OK;
}

/* ---- fingerprints ------------------------------------------------------------------------------ */

static void sha_str(struct hml_sha256 *s, const char *text)
{
    hml_sha256_update(s, text, strlen(text));
    hml_sha256_update(s, "\n", 1);
}

static void hex(const unsigned char d[32], char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) out[2 * i] = digits[d[i] >> 4], out[2 * i + 1] = digits[d[i] & 15];
    out[64] = 0;
}

static enum hml_status file_sha(const char *path, char out[65], struct hml_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        hml_fail(err, HML_EIO, "view", "cannot read '%s'", path);
        return hml_hint(err, "the source's stored copy is missing; add the file again with data add_source");
    }
    struct hml_sha256 s;
    unsigned char buf[1 << 16], d[32];
    size_t n;
    hml_sha256_init(&s);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) hml_sha256_update(&s, buf, n);
    fclose(f);
    hml_sha256_final(&s, d);
    hex(d, out);
    return HML_OK;
}

static enum hml_status source_fp(struct hml_views *v, struct node *n, struct hml_error *err)
{
    const json_t *rec = json_object_get(v->sources, n->name);
    char sha[65];
    const char *given = hml_json_str(rec, "sha256", NULL);
    if (given) snprintf(sha, sizeof sha, "%s", given);
    else {
        char *path = hml_path_join(v->dir, hml_json_str(rec, "path", ""));
        enum hml_status rc = path ? file_sha(path, sha, err) : hml_fail(err, HML_ENOMEM, "view", "out of memory");
        hml_free(path);
        if (rc) return rc;
    }
    struct hml_sha256 s;
    unsigned char d[32];
    hml_sha256_init(&s);
    sha_str(&s, ENGINE_VERSION " source");
    sha_str(&s, sha);
    sha_str(&s, hml_json_str(rec, "format", "csv"));
    sha_str(&s, hml_json_str(rec, "table", ""));
    char *tokens = hml_json_canonical(json_object_get(json_object_get(v->root, "data"), "null_tokens"));
    sha_str(&s, tokens ? tokens : "");
    hml_free(tokens);
    hml_sha256_final(&s, d);
    hex(d, n->fp);
    return HML_OK;
}

static enum hml_status fingerprint(struct hml_views *v, struct node *n, struct hml_error *err);

static enum hml_status view_fp(struct hml_views *v, struct node *n, struct hml_error *err)
{
    const json_t *def = json_object_get(v->views, n->name);
    json_t *core = json_pack("{s:O,s:O}", "source", json_object_get(def, "source"), "steps",
                             json_object_get(def, "steps") ? json_object_get(def, "steps") : json_null());
    char *text = core ? hml_json_canonical(core) : NULL;
    json_decref(core);
    if (!text) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    struct hml_sha256 s;
    hml_sha256_init(&s);
    sha_str(&s, ENGINE_VERSION " view");
    sha_str(&s, text);
    hml_free(text);
    /* The outcome columns decide which windows are shifted. */
    sha_str(&s, v->target ? v->target : "");
    for (size_t i = 0; i < v->outcomes_n; i++) sha_str(&s, v->outcomes[i]);
    const char *refs[HML_VIEW_STEPS_MAX + 1];
    size_t m = view_refs(def, refs, HML_VIEW_STEPS_MAX + 1);
    enum hml_status rc = HML_OK;
    n->busy = true;
    for (size_t i = 0; !rc && i < m; i++) {
        struct node *u;
        rc = node_of(v, refs[i], &u, err);
        if (!rc) rc = fingerprint(v, u, err);
        if (!rc) {
            sha_str(&s, u->name);
            sha_str(&s, u->fp);
        }
    }
    n->busy = false;
    if (rc) return rc;
    unsigned char d[32];
    hml_sha256_final(&s, d);
    hex(d, n->fp);
    return HML_OK;
}

static enum hml_status fingerprint(struct hml_views *v, struct node *n, struct hml_error *err)
{
    if (n->fp[0]) return HML_OK;
    HML_ASSERT(!n->busy); /* the graph check rules cycles out */
    return n->is_view ? view_fp(v, n, err) : source_fp(v, n, err);
}

enum hml_status hml_views_fingerprint(struct hml_views *v, const char *name, char out[65],
                                      struct hml_error *err)
{
    struct node *n;
    enum hml_status rc = node_of(v, name, &n, err);
    if (!rc) rc = fingerprint(v, n, err);
    if (!rc) memcpy(out, n->fp, 65);
    return rc;
}

/* ---- the cache ------------------------------------------------------------------------------------ */

char *hml_views_cache_path(const char *project_dir, const char *name, const char *fp)
{
    char rel[256];
    snprintf(rel, sizeof rel, ".harness/cache/views/%s-%.16s.hfr", name, fp);
    return hml_path_join(project_dir, rel);
}

static char *source_cache_path(const char *dir, const char *name, const char *fp)
{
    char rel[256];
    snprintf(rel, sizeof rel, ".harness/cache/sources/%s-%.16s.hfr", name, fp);
    return hml_path_join(dir, rel);
}

/* Queues f (shared, zero-copy) for the cache at path. */
static enum hml_status queue(struct hml_views *v, const char *path, const char *name, const struct hml_frame *f,
                             struct hml_error *err)
{
    struct pending *p = hml_realloc(v->pend, (v->npend + 1) * sizeof *p);
    if (!p) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    v->pend = p;
    struct pending *q = &p[v->npend];
    memset(q, 0, sizeof *q);
    q->path = hml_strdup(path);
    q->frame = hml_frame_clone(f);
    const char *slash = strrchr(path, '/');
    q->dir = slash ? hml_strndup(path, (size_t)(slash - path)) : NULL;
    snprintf(q->name, sizeof q->name, "%s-", name);
    if (!q->path || !q->frame || !q->dir) {
        hml_free(q->path);
        hml_free(q->dir);
        hml_frame_free(q->frame);
        return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    }
    v->npend++;
    return HML_OK;
}

/* Older cache files of the same name (other fingerprints) go. Best effort. */
static void remove_stale(const char *dir, const char *prefix, const char *keep)
{
    DIR *d = opendir(dir);
    if (!d) return;
    size_t plen = strlen(prefix);
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        /* <name>-<16 hex>.hfr exactly, so 'a' never removes 'a-b''s files. */
        if (len != plen + 20 || strncmp(e->d_name, prefix, plen) || strcmp(e->d_name + len - 4, ".hfr")) continue;
        char *path = hml_path_join(dir, e->d_name);
        if (path && strcmp(path, keep)) unlink(path);
        hml_free(path);
    }
    closedir(d);
}

enum hml_status hml_views_flush(struct hml_views *v, struct hml_error *err)
{
    enum hml_status rc = HML_OK;
    for (size_t i = 0; !rc && i < v->npend; i++) {
        struct pending *p = &v->pend[i];
        rc = hml_mkdirs(p->dir, err);
        if (!rc) rc = hml_frame_save(p->frame, p->path, err);
        if (!rc) remove_stale(p->dir, p->name, p->path);
    }
    for (size_t i = 0; i < v->npend; i++) {
        hml_free(v->pend[i].path);
        hml_free(v->pend[i].dir);
        hml_frame_free(v->pend[i].frame);
    }
    v->npend = 0;
    return rc;
}

/* ---- sources ------------------------------------------------------------------------------------------ */

static enum hml_status read_source(struct hml_views *v, const json_t *rec, const char *name, struct hml_frame **out,
                                   struct hml_error *err)
{
    char *path = hml_path_join(v->dir, hml_json_str(rec, "path", ""));
    if (!path) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    const char *fmt = hml_json_str(rec, "format", "csv");
    enum hml_status rc;
    struct hml_ingest_report rep = {0};
    if (!hml_path_exists(path)) {
        hml_fail(err, HML_ENOTFOUND, "view", "the stored copy of source '%s' (%s) is missing", name,
                 hml_json_str(rec, "path", ""));
        rc = hml_hint(err, "add the file again: data add_source --name %s --data_path <file>", name);
    } else if (!strcmp(fmt, "sqlite")) {
        rc = hml_sqlite_read_table(path, hml_json_str(rec, "table", NULL), out, &rep, err);
    } else {
        const char *tokens[NULL_TOKENS_MAX];
        size_t nt = 0, i;
        json_t *t;
        json_array_foreach(json_object_get(json_object_get(v->root, "data"), "null_tokens"), i, t)
            if (nt < NULL_TOKENS_MAX && json_is_string(t)) tokens[nt++] = json_string_value(t);
        struct hml_csv_options opt = {.null_tokens = nt ? tokens : NULL, .null_tokens_n = nt, .auto_clean = true,
                                      .delimiter = !strcmp(fmt, "tsv") ? '\t' : ','};
        rc = !strcmp(fmt, "jsonl") ? hml_jsonl_read_file(path, &opt, out, &rep, err)
                                   : hml_csv_read_file(path, &opt, out, &rep, err);
    }
    if (rc && rc != HML_ENOTFOUND) hml_error_prefix(err, "source '%s'", name);
    hml_ingest_report_fini(&rep);
    hml_free(path);
    return rc;
}

static enum hml_status source_frame(struct hml_views *v, struct node *n, struct hml_error *err)
{
    if (n->frame) return HML_OK;
    enum hml_status rc = fingerprint(v, n, err);
    char *cache = rc ? NULL : source_cache_path(v->dir, n->name, n->fp);
    if (!rc && !cache) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    struct hml_error ignore;
    if (!rc && hml_path_exists(cache) && hml_frame_load(cache, &n->frame, &ignore) == HML_OK) {
        hml_free(cache);
        return HML_OK;
    }
    if (!rc) rc = read_source(v, json_object_get(v->sources, n->name), n->name, &n->frame, err);
    if (!rc) rc = queue(v, cache, n->name, n->frame, err);
    hml_free(cache);
    return rc;
}

/* ---- schema and rows ----------------------------------------------------------------------------------- */

struct resolver {
    struct hml_views *v;
    bool dry;
};

static enum hml_status node_frame(struct hml_views *v, struct node *n, bool dry, struct hml_frame **out,
                                  struct hml_error *err);

static enum hml_status resolve(void *ud, const char *name, struct hml_frame **out, struct hml_error *err)
{
    struct resolver *r = ud;
    struct node *n;
    enum hml_status rc = node_of(r->v, name, &n, err);
    return rc ? rc : node_frame(r->v, n, r->dry, out, err);
}

static void collect_warnings(struct hml_views *v, const char *name, json_t *w)
{
    size_t i;
    json_t *s;
    json_array_foreach(w, i, s) {
        char buf[640];
        snprintf(buf, sizeof buf, "view '%s': %s", name, json_string_value(s));
        json_array_append_new(v->warnings, json_string(buf));
    }
}

/* The first outcome column a view summarises over whole groups (group_by / cond_agg
 * without per_row), or NULL. Joined back onto rows, such a summary holds each row's own
 * outcome: leakage. */
static const char *whole_group_outcome(const struct hml_views *v, const json_t *def)
{
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(def, "steps"), i, st) {
        const char *op = hml_json_str(st, "op", "");
        bool group = !strcmp(op, "group_by"), cond = !strcmp(op, "cond_agg");
        if ((!group && !cond) || hml_json_bool(st, "per_row", false)) continue;
        const char *k;
        json_t *a;
        json_object_foreach(json_object_get(st, "aggs"), k, a) {
            char col[256];
            const char *rest;
            const char *src = group ? k : json_string_value(a);
            if (!src || !hml__vr_split(src, col, sizeof col, &rest)) continue;
            if (!group) src = col;
            for (size_t o = 0; o < v->outcomes_n; o++)
                if (!strcmp(v->outcomes[o], src)) return v->outcomes[o];
        }
    }
    return NULL;
}

static void warn_join_back(struct hml_views *v, const char *name, const json_t *def)
{
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(def, "steps"), i, st) {
        if (strcmp(hml_json_str(st, "op", ""), "join")) continue;
        const char *other = hml_json_str(st, "other", "");
        const char *col = whole_group_outcome(v, json_object_get(v->views, other));
        if (!col) continue;
        char buf[640];
        snprintf(buf, sizeof buf, "view '%s': step %zu (join): '%s' summarises the outcome '%s' over whole groups, so "
                                  "joined back onto rows it includes each row's own outcome; use per_row: true (earlier "
                                  "rows only) or summarise an earlier period",
                 name, i + 1, other, col);
        json_array_append_new(v->warnings, json_string(buf));
    }
}

/* Runs (or checks) the view's steps over its source's rows (or schema). */
static enum hml_status run_view(struct hml_views *v, struct node *n, bool dry, struct hml_frame **out,
                                struct hml_error *err)
{
    const json_t *def = json_object_get(v->views, n->name);
    struct node *src;
    struct hml_frame *in = NULL;
    json_t *w = json_array(), *empty = json_array();
    const json_t *steps = json_object_get(def, "steps") ? json_object_get(def, "steps") : empty;
    enum hml_status rc = w && empty ? node_of(v, hml_json_str(def, "source", ""), &src, err)
                                    : hml_fail(err, HML_ENOMEM, "view", "out of memory");
    n->busy = true;
    if (!rc) rc = node_frame(v, src, dry, &in, err);
    struct resolver res = {v, dry};
    struct hml_view_ctx ctx = {.target = v->target, .outcomes = v->outcomes, .outcomes_n = v->outcomes_n,
                               .resolve = resolve, .resolve_ud = &res, .warnings = w};
    if (!rc) {
        rc = dry ? hml_view_check(in, steps, &ctx, out, err) : hml_view_apply(in, steps, &ctx, out, err);
        if (rc && (rc == HML_EINVAL || rc == HML_ENOTFOUND || rc == HML_EBLOCKED || rc == HML_ELIMIT ||
                   rc == HML_ECONFLICT) && strncmp(err->message, "view '", 6))
            hml_error_prefix(err, "view '%s'", n->name);
    }
    n->busy = false;
    if (!rc) collect_warnings(v, n->name, w);
    if (!rc) warn_join_back(v, n->name, def);
    json_decref(w);
    json_decref(empty);
    hml_frame_free(in);
    return rc;
}

static enum hml_status view_rows(struct hml_views *v, struct node *n, struct hml_error *err)
{
    if (n->frame) return HML_OK;
    enum hml_status rc = fingerprint(v, n, err);
    char *cache = rc ? NULL : hml_views_cache_path(v->dir, n->name, n->fp);
    if (!rc && !cache) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    struct hml_error ignore;
    if (!rc && hml_path_exists(cache) && hml_frame_load(cache, &n->frame, &ignore) == HML_OK) {
        json_array_append_new(v->loaded, json_string(n->name));
        hml_free(cache);
        return HML_OK;
    }
    if (!rc) rc = run_view(v, n, false, &n->frame, err);
    if (!rc) {
        __atomic_add_fetch(&computations, 1, __ATOMIC_RELAXED);
        json_array_append_new(v->computed, json_string(n->name));
        rc = queue(v, cache, n->name, n->frame, err);
    }
    hml_free(cache);
    return rc;
}

static enum hml_status node_frame(struct hml_views *v, struct node *n, bool dry, struct hml_frame **out,
                                  struct hml_error *err)
{
    HML_ASSERT(!n->busy);
    enum hml_status rc;
    if (!n->is_view) {
        rc = source_frame(v, n, err);
        *out = rc ? NULL : dry ? hml_frame_take(n->frame, NULL, 0) : hml_frame_clone(n->frame);
    } else if (dry && n->frame) {
        rc = HML_OK;
        *out = hml_frame_take(n->frame, NULL, 0);
    } else if (dry) {
        rc = n->schema ? HML_OK : run_view(v, n, true, &n->schema, err);
        *out = rc ? NULL : hml_frame_clone(n->schema);
    } else {
        rc = view_rows(v, n, err);
        *out = rc ? NULL : hml_frame_clone(n->frame);
    }
    if (!rc && !*out) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    return rc;
}

static enum hml_status view_node(struct hml_views *v, const char *name, struct node **out, struct hml_error *err)
{
    if (!json_object_get(v->views, name)) {
        const char *names[HML_VIEW_VIEWS_MAX];
        size_t n = 0;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v->views, k, x) if (n < HML_VIEW_VIEWS_MAX) names[n++] = k;
        hml_fail(err, HML_ENOTFOUND, "view", "no view named '%s'", name);
        if (!n) return hml_hint(err, "there are no views yet; data add_view makes one");
        return hml_error_choices(err, name, names, n);
    }
    return node_of(v, name, out, err);
}

enum hml_status hml_views_schema(struct hml_views *v, const char *name, struct hml_frame **out,
                                 struct hml_error *err)
{
    struct node *n;
    struct hml_frame *f = NULL;
    enum hml_status rc = view_node(v, name, &n, err);
    if (!rc) rc = node_frame(v, n, true, &f, err);
    if (!rc && out) *out = f;
    else hml_frame_free(f);
    return rc;
}

enum hml_status hml_views_materialise(struct hml_views *v, const char *name,
                                      struct hml_frame **out, struct hml_error *err)
{
    struct node *n;
    enum hml_status rc = view_node(v, name, &n, err);
    if (!rc) rc = node_frame(v, n, false, out, err);
    return rc;
}
