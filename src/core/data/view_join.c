/* view_join.c — the join step: key tuples of both frames get common dense ids in one hash
 * pass each, the other frame's rows are bucketed by id (counting sort), and the output is a
 * list of (left row, other row) pairs gathered column by column. Null keys never match. */
#include "view_int.h"

#include <stdio.h>
#include <string.h>

#include "harness/alloc.h"

enum how { HOW_LEFT, HOW_INNER, HOW_RIGHT, HOW_OUTER };
static const char *const hows[] = {"left", "inner", "right", "outer", NULL};

#define NONE SIZE_MAX

struct jkeys {
    size_t n;
    size_t l[HML_VIEW_KEYS_MAX], r[HML_VIEW_KEYS_MAX];
};

struct pairs {
    size_t *l, *r, n, cap;
};

static bool pairs_push(struct pairs *p, size_t l, size_t r)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        size_t *a = hml_realloc(p->l, cap * sizeof *a);
        if (!a) return false;
        p->l = a;
        size_t *b = hml_realloc(p->r, cap * sizeof *b);
        if (!b) return false;
        p->r = b;
        p->cap = cap;
    }
    p->l[p->n] = l;
    p->r[p->n++] = r;
    return true;
}

static int key_kind(enum hml_type t) { return t == HML_TYPE_STR ? 1 : t == HML_TYPE_DATE ? 2 : 0; }

static enum hml_status parse_keys(struct vrun *r, const struct hml_frame *left, const struct hml_frame *other,
                                  const json_t *step, struct jkeys *k, struct hml_error *err)
{
    const json_t *on = json_object_get(step, "on");
    const char *ln[HML_VIEW_KEYS_MAX], *rn[HML_VIEW_KEYS_MAX];
    k->n = 0;
    if (json_is_object(on)) {
        const char *a;
        json_t *b;
        json_object_foreach((json_t *)on, a, b) {
            if (!json_is_string(b))
                return hml__vr_fail(r, err, HML_EINVAL, "write {\"left_column\": \"other_column\"}",
                                    "'on' entry '%s' must name a column of the other frame", a);
            if (k->n == HML_VIEW_KEYS_MAX) break;
            ln[k->n] = a;
            rn[k->n++] = json_string_value(b);
        }
    } else if (json_is_string(on)) {
        ln[0] = rn[0] = json_string_value(on);
        k->n = 1;
    } else {
        for (size_t i = 0; i < json_array_size(on) && k->n < HML_VIEW_KEYS_MAX; i++)
            ln[k->n] = rn[k->n] = json_string_value(json_array_get(on, i)), k->n++;
    }
    if (!k->n || json_array_size(on) > HML_VIEW_KEYS_MAX || json_object_size(on) > HML_VIEW_KEYS_MAX)
        return hml__vr_fail(r, err, HML_EINVAL, "name 1 to 16 key columns, e.g. \"on\": [\"team_id\"]",
                            "'on' must name between 1 and %u key columns", HML_VIEW_KEYS_MAX);
    for (size_t i = 0; i < k->n; i++) {
        enum hml_status rc = hml__vr_col(r, left, ln[i], "on", &k->l[i], err);
        if (!rc) {
            rc = hml__vr_col(r, other, rn[i], "on", &k->r[i], err);
            if (rc == HML_ENOTFOUND) hml_error_prefix(err, "in '%s'", hml_json_str(step, "other", ""));
        }
        if (rc) return rc;
        enum hml_type a = left->cols[k->l[i]]->type, b = other->cols[k->r[i]]->type;
        if (key_kind(a) != key_kind(b))
            return hml__vr_fail(r, err, HML_EINVAL, "cast one side first so both keys hold the same kind of value",
                                "join key '%s' is %s here but '%s' is %s in '%s'", ln[i], hml_type_name(a), rn[i],
                                hml_type_name(b), hml_json_str(step, "other", ""));
    }
    return HML_OK;
}

static bool is_rkey(const struct jkeys *k, size_t j)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->r[i] == j) return true;
    return false;
}

/* The other's columns to bring, and their output names. */
static enum hml_status parse_select(struct vrun *r, const struct hml_frame *left, const struct hml_frame *other,
                                    const json_t *step, const struct jkeys *k, size_t *cols, size_t *n,
                                    struct hml_error *err)
{
    const char *prefix = hml_json_str(step, "prefix", "");
    *n = 0;
    if (json_object_get(step, "select")) {
        const char *names[HML_VIEW_KEYS_MAX];
        size_t m;
        enum hml_status rc = hml__vr_names(r, step, "select", names, &m, err);
        for (size_t i = 0; !rc && i < m; i++) {
            rc = hml__vr_col(r, other, names[i], "select", &cols[*n], err);
            if (rc == HML_ENOTFOUND) hml_error_prefix(err, "in '%s'", hml_json_str(step, "other", ""));
            if (!rc && !is_rkey(k, cols[*n])) ++*n;
        }
        if (rc) return rc;
    } else {
        for (size_t j = 0; j < other->ncols && *n < HML_VIEW_AGGS_MAX; j++)
            if (!is_rkey(k, j)) cols[(*n)++] = j;
    }
    for (size_t i = 0; i < *n; i++) {
        char name[512];
        snprintf(name, sizeof name, "%s%s", prefix, other->names[cols[i]]);
        if (hml_frame_find(left, name) >= 0)
            return hml__vr_fail(r, err, HML_ECONFLICT, "pass a prefix (e.g. \"prefix\": \"other_\"), or select fewer "
                                                       "columns",
                                "column '%s' exists on both sides of the join", name);
    }
    return HML_OK;
}

/* Rows of b bucketed by id: rows of id g are list[off[g] .. off[g+1]) in b's order. */
static enum hml_status bucket(const uint32_t *gb, size_t nb, size_t ng, size_t **off_out, size_t **list_out,
                              struct hml_error *err)
{
    size_t *off = hml_calloc(ng + 2, sizeof *off), *list = hml_malloc((nb + 1) * sizeof *list);
    if (!off || !list) {
        hml_free(off);
        hml_free(list);
        return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    }
    for (size_t i = 0; i < nb; i++)
        if (gb[i] != VG_NULL) off[gb[i] + 2]++;
    for (size_t g = 0; g < ng; g++) off[g + 2] += off[g + 1];
    for (size_t i = 0; i < nb; i++)
        if (gb[i] != VG_NULL) list[off[gb[i] + 1]++] = i;
    *off_out = off;
    *list_out = list;
    return HML_OK;
}

/* Matches of each driving row (in order) through the bucketed other side; unmatched driving
 * rows are kept unless inner. swap: the driving side is the other frame. */
static bool drive(struct pairs *p, const uint32_t *gd, size_t nd, const size_t *off, const size_t *list, bool keep,
                  bool swap, uint8_t *hit)
{
    for (size_t i = 0; i < nd; i++) {
        uint32_t g = gd[i];
        size_t a = g == VG_NULL ? 0 : off[g], b = g == VG_NULL ? 0 : off[g + 1];
        if (a == b && keep && !pairs_push(p, swap ? NONE : i, swap ? i : NONE)) return false;
        for (size_t q = a; q < b; q++) {
            if (hit) hit[list[q]] = 1;
            if (!pairs_push(p, swap ? list[q] : i, swap ? i : list[q])) return false;
        }
    }
    return true;
}

static enum hml_status match(const struct hml_frame *left, const struct hml_frame *other, const struct jkeys *k,
                             enum how how, struct pairs *p, struct hml_error *err)
{
    uint32_t *gl = NULL, *go = NULL;
    size_t ng = 0, *off = NULL, *list = NULL;
    uint8_t *hit = NULL;
    enum hml_status rc = hml__vg_factorize2(left, k->l, other, k->r, k->n, &gl, &go, &ng, err);
    bool right = how == HOW_RIGHT;
    if (!rc) rc = right ? bucket(gl, left->nrows, ng, &off, &list, err) : bucket(go, other->nrows, ng, &off, &list, err);
    if (!rc && how == HOW_OUTER && !(hit = hml_calloc(other->nrows + 1, 1)))
        rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    bool ok = true;
    if (!rc && right) ok = drive(p, go, other->nrows, off, list, true, true, NULL);
    else if (!rc) ok = drive(p, gl, left->nrows, off, list, how != HOW_INNER, false, hit);
    for (size_t j = 0; ok && !rc && hit && j < other->nrows; j++)
        if (!hit[j]) ok = pairs_push(p, NONE, j);
    if (!rc && !ok) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    hml_free(gl);
    hml_free(go);
    hml_free(off);
    hml_free(list);
    hml_free(hit);
    return rc;
}

/* A left key column, filled from the other's key where only the other has the row. */
static struct hml_column *coalesce_key(const struct hml_column *a, const struct hml_column *b, const struct pairs *p)
{
    bool need = false;
    for (size_t i = 0; i < p->n && !need; i++) need = p->l[i] == NONE;
    if (!need) return hml__vcol_gather(a, p->l, p->n);
    enum hml_type t = a->type == b->type ? a->type : HML_TYPE_F64;
    struct hml_column *o = hml_column_new(t, p->n);
    for (size_t i = 0; o && i < p->n; i++) {
        const struct hml_column *c = p->l[i] == NONE ? b : a;
        size_t row = p->l[i] == NONE ? p->r[i] : p->l[i];
        if (row == NONE || hml_column_is_null(c, row)) {
            if (!hml_column_set_null(o, i)) goto oom;
        } else if (t == HML_TYPE_STR) {
            const char *s = hml_column_str(c, row);
            int32_t code = hml_dict_intern(o->dict, s, strlen(s));
            if (code < 0) goto oom;
            hml_codes(o)[i] = code;
        } else if (t == HML_TYPE_F64) {
            hml_f64(o)[i] = hml_column_num(c, row);
        } else {
            size_t w = hml__type_width(t);
            memcpy((char *)o->data + i * w, (const char *)c->data + row * w, w);
        }
    }
    return o;
oom:
    hml_column_unref(o);
    return NULL;
}

static bool is_lkey(const struct jkeys *k, size_t j, size_t *which)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->l[i] == j) return *which = i, true;
    return false;
}

static enum hml_status build(const struct hml_frame *left, const struct hml_frame *other, const struct jkeys *k,
                             const size_t *sel, size_t nsel, const char *prefix, const struct pairs *p,
                             struct hml_frame **out, struct hml_error *err)
{
    struct hml_frame *g = hml_frame_new();
    enum hml_status rc = g ? HML_OK : hml_fail(err, HML_ENOMEM, "view", "out of memory");
    if (g) g->nrows = p->n;
    for (size_t j = 0; !rc && j < left->ncols; j++) {
        size_t ki;
        struct hml_column *c = is_lkey(k, j, &ki) ? coalesce_key(left->cols[j], other->cols[k->r[ki]], p)
                                                  : hml__vcol_gather(left->cols[j], p->l, p->n);
        rc = hml__vr_put(g, left->names[j], c, err);
    }
    for (size_t i = 0; !rc && i < nsel; i++) {
        char name[512];
        snprintf(name, sizeof name, "%s%s", prefix, other->names[sel[i]]);
        rc = hml__vr_put(g, name, hml__vcol_gather(other->cols[sel[i]], p->r, p->n), err);
    }
    if (rc) {
        hml_frame_free(g);
        return rc;
    }
    *out = g;
    return HML_OK;
}

static void report(struct vrun *r, const json_t *step, const struct hml_frame *left, const struct pairs *p,
                   enum how how)
{
    const char *other = hml_json_str(step, "other", "");
    size_t unmatched = 0, lrows = 0;
    for (size_t i = 0; i < p->n; i++) {
        unmatched += p->l[i] != NONE && p->r[i] == NONE;
        lrows += p->l[i] != NONE && (i == 0 || p->l[i] != p->l[i - 1]);
    }
    if ((how == HOW_LEFT || how == HOW_INNER) && p->n > lrows)
        hml__vr_warn(r, "keys repeat in '%s', so %zu rows became %zu (check the keys identify one row there)", other,
                     left->nrows, p->n);
    if (how == HOW_LEFT && unmatched)
        hml__vr_warn(r, "%zu of %zu rows found no match in '%s'; their new columns are null", unmatched, left->nrows,
                     other);
}

VSTEP(hml__vs_join)
{
    int how;
    struct hml_frame *other = NULL, *g = NULL;
    struct jkeys k;
    size_t sel[HML_VIEW_AGGS_MAX], nsel = 0;
    struct pairs p = {0};
    enum hml_status rc = hml__vr_choice(r, step, "how", hows, HOW_LEFT, &how, err);
    if (!rc) rc = hml__vr_other(r, step, &other, err);
    if (!rc) rc = parse_keys(r, *f, other, step, &k, err);
    if (!rc) rc = parse_select(r, *f, other, step, &k, sel, &nsel, err);
    if (!rc) rc = match(*f, other, &k, (enum how)how, &p, err);
    if (!rc) rc = build(*f, other, &k, sel, nsel, hml_json_str(step, "prefix", ""), &p, &g, err);
    if (!rc) {
        report(r, step, *f, &p, (enum how)how);
        hml_frame_free(*f);
        *f = g;
    }
    hml_free(p.l);
    hml_free(p.r);
    hml_frame_free(other);
    return rc;
}
