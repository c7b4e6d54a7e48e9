/* expr_check.c — resolves names against a frame and computes every node's type.
 *
 * Results go into the per-call annotation array (cx->ann), never into the tree, so one
 * parsed expression can be checked and evaluated against many frames at once. */
#include "core/data/expr_int.h"

#include <stdio.h>
#include <string.h>

#include "harness/alloc.h"

static const char *const op_names[] = {
    [XO_ADD] = "+",  [XO_SUB] = "-",  [XO_MUL] = "*",  [XO_DIV] = "/",  [XO_MOD] = "%",
    [XO_POW] = "**", [XO_EQ] = "==",  [XO_NE] = "!=",  [XO_LT] = "<",   [XO_LE] = "<=",
    [XO_GT] = ">",   [XO_GE] = ">=",  [XO_AND] = "and", [XO_OR] = "or",
};

const char *hml__xt_name(enum hml__xt t)
{
    switch (t) {
    case XT_NULL: return "null";
    case XT_INT: return "int";
    case XT_FLOAT: return "float";
    case XT_BOOL: return "bool";
    case XT_STR: return "string";
    case XT_DATE: return "date";
    }
    return "?";
}

enum hml_type hml__xt_column_type(enum hml__xt t)
{
    switch (t) {
    case XT_INT: return HML_TYPE_I64;
    case XT_BOOL: return HML_TYPE_BOOL;
    case XT_STR: return HML_TYPE_STR;
    case XT_DATE: return HML_TYPE_DATE;
    case XT_NULL:
    case XT_FLOAT: return HML_TYPE_F64;
    }
    return HML_TYPE_F64;
}

static enum hml__xt from_column_type(enum hml_type t)
{
    switch (t) {
    case HML_TYPE_F64: return XT_FLOAT;
    case HML_TYPE_I64: return XT_INT;
    case HML_TYPE_BOOL: return XT_BOOL;
    case HML_TYPE_STR: return XT_STR;
    case HML_TYPE_DATE: return XT_DATE;
    }
    return XT_FLOAT;
}

static bool numeric(enum hml__xt t) { return t == XT_INT || t == XT_FLOAT || t == XT_BOOL; }
static bool intish(enum hml__xt t) { return t == XT_INT || t == XT_BOOL || t == XT_NULL; }

static enum hml__xt *ty(struct hml__xcx *cx, const struct hml__xnode *nd)
{
    return &cx->ann[nd->id].t;
}

/* A 'YYYY-MM-DD' literal meeting a date becomes a date; anything else is an error. */
static enum hml_status date_literal(struct hml__xcx *cx, const struct hml__xnode *nd)
{
    HML_ASSERT(nd->kind == XK_STR);
    if (!nd->is_date)
        return hml__xfail(cx->err, HML_EINVAL, nd->start,
                          "write dates as 'YYYY-MM-DD', e.g. '2020-01-31'",
                          "'%.40s' is not a date", nd->text);
    *ty(cx, nd) = XT_DATE;
    return HML_OK;
}

static enum hml_status resolve_column(struct hml__xcx *cx, const struct hml__xnode *nd)
{
    long idx = hml_frame_find(cx->f, nd->text);
    if (idx < 0)
        return hml__xunknown(cx->err, HML_ENOTFOUND, "column", nd->text, nd->at,
                             (const char *const *)cx->f->names, cx->f->ncols);
    cx->ann[nd->id].col = cx->f->cols[idx];
    *ty(cx, nd) = from_column_type(cx->f->cols[idx]->type);
    return HML_OK;
}

static enum hml_status resolve_ref(struct hml__xcx *cx, const struct hml__xnode *nd)
{
    const struct hml_expr_env *env = cx->env;
    struct hml_column *col = NULL;
    if (env && env->features) {
        long idx = hml_frame_find(env->features, nd->text);
        if (idx >= 0) col = env->features->cols[idx];
    }
    if (!col && env && env->lookup) col = env->lookup(env->ctx, nd->text);
    if (!col && (!env || !env->features || env->features->ncols == 0))
        return hml__xfail(cx->err, HML_ENOTFOUND, nd->at,
                          "declare the feature first, or use a column name without '@'",
                          "unknown feature '@%s'", nd->text);
    if (!col)
        return hml__xunknown(cx->err, HML_ENOTFOUND, "feature", nd->text, nd->at,
                             (const char *const *)env->features->names, env->features->ncols);
    if (col->n != cx->n)
        return hml__xfail(cx->err, HML_EINVAL, nd->at,
                          "features must be computed on the same rows as the formula's table",
                          "feature '@%s' has %zu rows but the table has %zu", nd->text, col->n,
                          cx->n);
    cx->ann[nd->id].col = col;
    *ty(cx, nd) = from_column_type(col->type);
    return HML_OK;
}

static enum hml_status check_node(struct hml__xcx *cx, const struct hml__xnode *nd);

static enum hml_status want_number(struct hml__xcx *cx, const char *op, const struct hml__xnode *x)
{
    enum hml__xt t = *ty(cx, x);
    if (numeric(t) || t == XT_NULL) return HML_OK;
    const char *hint = t == XT_DATE ? "date - date gives days; use year(), month(), day() or "
                                      "dayofweek() for the parts of a date"
                     : t == XT_STR ? "arithmetic needs numbers (bools count as 0/1); compare "
                                     "strings with == or measure them with str_len()"
                                   : "arithmetic needs numbers";
    return hml__xfail(cx->err, HML_EINVAL, x->start, hint, "'%s' expects numbers, got %s", op,
                      hml__xt_name(t));
}

static enum hml_status want_bool(struct hml__xcx *cx, const char *op, const struct hml__xnode *x)
{
    enum hml__xt t = *ty(cx, x);
    if (t == XT_BOOL || t == XT_NULL) return HML_OK;
    return hml__xfail(cx->err, HML_EINVAL, x->start,
                      "compare it first, e.g. x != 0 or s == 'yes'",
                      "'%s' expects a bool (true/false), got %s", op, hml__xt_name(t));
}

static enum hml_status check_arith(struct hml__xcx *cx, const struct hml__xnode *nd)
{
    const struct hml__xnode *l = nd->args[0], *r = nd->args[1];
    enum hml__xt lt = *ty(cx, l), rt = *ty(cx, r);
    if (nd->op == XO_SUB && lt == XT_DATE && rt == XT_DATE) {
        *ty(cx, nd) = XT_INT;
        return HML_OK;
    }
    enum hml_status rc;
    if ((rc = want_number(cx, op_names[nd->op], l)) || (rc = want_number(cx, op_names[nd->op], r)))
        return rc;
    enum hml__xt t = intish(lt) && intish(rt) ? XT_INT : XT_FLOAT;
    if (nd->op == XO_DIV || nd->op == XO_POW) t = XT_FLOAT;
    if (lt == XT_NULL || rt == XT_NULL) t = XT_NULL;
    *ty(cx, nd) = t;
    return HML_OK;
}

/* The one place that decides which pairs of types compare. */
static enum hml_status comparable(struct hml__xcx *cx, const struct hml__xnode *at,
                                  const struct hml__xnode *l, const struct hml__xnode *r,
                                  const char *op)
{
    enum hml__xt lt = *ty(cx, l), rt = *ty(cx, r);
    if (lt == XT_NULL || rt == XT_NULL) return HML_OK;
    if (numeric(lt) && numeric(rt)) return HML_OK;
    if (lt == rt) return HML_OK;
    if (lt == XT_DATE && rt == XT_STR && r->kind == XK_STR) return date_literal(cx, r);
    if (rt == XT_DATE && lt == XT_STR && l->kind == XK_STR) return date_literal(cx, l);
    return hml__xfail(cx->err, HML_EINVAL, at->at,
                      "compare values of one type: numbers with numbers, strings with "
                      "'strings', dates with dates or 'YYYY-MM-DD' literals",
                      "'%s' cannot compare %s with %s", op, hml__xt_name(lt), hml__xt_name(rt));
}

static enum hml_status check_bin(struct hml__xcx *cx, const struct hml__xnode *nd)
{
    const struct hml__xnode *l = nd->args[0], *r = nd->args[1];
    enum hml_status rc;
    if (nd->op <= XO_POW) return check_arith(cx, nd);
    if (nd->op == XO_AND || nd->op == XO_OR) {
        if ((rc = want_bool(cx, op_names[nd->op], l)) || (rc = want_bool(cx, op_names[nd->op], r)))
            return rc;
        *ty(cx, nd) = XT_BOOL;
        return HML_OK;
    }
    if (l->kind == XK_NULL || r->kind == XK_NULL)
        return hml__xfail(cx->err, HML_EINVAL, nd->at, "test for nulls with isnull(x) or not isnull(x)",
                          "comparing with null is always null");
    if ((rc = comparable(cx, nd, l, r, op_names[nd->op]))) return rc;
    *ty(cx, nd) = XT_BOOL;
    return HML_OK;
}

static enum hml_status check_in(struct hml__xcx *cx, const struct hml__xnode *nd)
{
    const struct hml__xnode *lhs = nd->args[0];
    enum hml__xt lt = *ty(cx, lhs);
    for (uint32_t i = 1; i < nd->nargs; i++) {
        const struct hml__xnode *v = nd->args[i];
        enum hml__xt vt = *ty(cx, v);
        bool ok = lt == XT_NULL || (numeric(lt) && numeric(vt)) || lt == vt;
        if (lt == XT_DATE && v->kind == XK_STR) {
            enum hml_status rc = date_literal(cx, v);
            if (rc) return rc;
            ok = true;
        }
        if (!ok)
            return hml__xfail(cx->err, HML_EINVAL, v->start,
                              "list values must have the type of the value tested",
                              "'in' list holds a %s but the value tested is a %s",
                              hml__xt_name(vt), hml__xt_name(lt));
    }
    *ty(cx, nd) = XT_BOOL;
    return HML_OK;
}

/* The common type of if()'s branches or coalesce()'s arguments. Ints and bools widen to
 * float next to a float; a date next to 'YYYY-MM-DD' literals turns them into dates. */
static enum hml_status unify(struct hml__xcx *cx, const struct hml__xnode *nd, uint32_t from,
                             enum hml__xt *out)
{
    bool has_date = false;
    for (uint32_t i = from; i < nd->nargs; i++) has_date |= *ty(cx, nd->args[i]) == XT_DATE;
    enum hml__xt t = XT_NULL;
    for (uint32_t i = from; i < nd->nargs; i++) {
        const struct hml__xnode *a = nd->args[i];
        enum hml_status rc;
        if (has_date && a->kind == XK_STR && (rc = date_literal(cx, a))) return rc;
        enum hml__xt at = *ty(cx, a);
        if (t == XT_NULL || at == t) t = at == XT_NULL ? t : at;
        else if (numeric(t) && numeric(at)) t = (t == XT_FLOAT || at == XT_FLOAT) ? XT_FLOAT : XT_INT;
        else if (at != XT_NULL)
            return hml__xfail(cx->err, HML_EINVAL, a->start,
                              "every value must have one type (numbers mix; strings, bools and "
                              "dates do not)",
                              "%s() mixes %s and %s", nd->text, hml__xt_name(t), hml__xt_name(at));
    }
    *out = t;
    return HML_OK;
}

static enum hml_status check_arg(struct hml__xcx *cx, const struct hml__xnode *nd,
                                 const struct hml__xfn_def *def, uint32_t i)
{
    size_t nletters = strlen(def->args);
    char want = def->args[i < nletters ? i : nletters - 1];
    const struct hml__xnode *a = nd->args[i];
    enum hml__xt t = *ty(cx, a);
    if (want == 'd' && t == XT_STR && a->kind == XK_STR) return date_literal(cx, a);
    bool ok = t == XT_NULL || want == 'a' ||
              ((want == 'n' || want == 'K') && numeric(t)) || (want == 'b' && t == XT_BOOL) ||
              ((want == 's' || want == 'P') && t == XT_STR) || (want == 'd' && t == XT_DATE);
    if (ok) return HML_OK;
    const char *what = want == 'b' ? "a bool" : want == 's' || want == 'P' ? "a string"
                     : want == 'd' ? "a date" : "a number";
    char hint[160];
    snprintf(hint, sizeof hint, "signature: %s", def->sig);
    return hml__xfail(cx->err, HML_EINVAL, a->start, hint, "argument %u of %s() must be %s, got %s",
                      i + 1, nd->text, what, hml__xt_name(t));
}

static enum hml_status check_call(struct hml__xcx *cx, const struct hml__xnode *nd)
{
    const struct hml__xfn_def *def = hml__xfn_get(nd->op);
    enum hml_status rc;
    bool all_int = true;
    for (uint32_t i = 0; i < nd->nargs; i++) {
        if ((rc = check_arg(cx, nd, def, i))) return rc;
        all_int &= intish(*ty(cx, nd->args[i]));
    }
    enum hml__xt t = XT_FLOAT;
    switch (def->ret) {
    case XR_FLOAT: t = XT_FLOAT; break;
    case XR_INT: t = XT_INT; break;
    case XR_BOOL: t = XT_BOOL; break;
    case XR_STR: t = XT_STR; break;
    case XR_NUMSAME: t = all_int ? XT_INT : XT_FLOAT; break;
    case XR_UNIFY:
        if ((rc = unify(cx, nd, def->fn == XF_IF ? 1 : 0, &t))) return rc;
        break;
    }
    *ty(cx, nd) = t;
    return HML_OK;
}

static enum hml_status check_node(struct hml__xcx *cx, const struct hml__xnode *nd)
{
    for (uint32_t i = 0; i < nd->nargs; i++) {
        enum hml_status rc = check_node(cx, nd->args[i]);
        if (rc) return rc;
    }
    enum hml__xt *t = ty(cx, nd);
    switch (nd->kind) {
    case XK_NUM: *t = XT_FLOAT; return HML_OK;
    case XK_INT: *t = XT_INT; return HML_OK;
    case XK_STR: *t = XT_STR; return HML_OK;
    case XK_BOOL: *t = XT_BOOL; return HML_OK;
    case XK_NULL: *t = XT_NULL; return HML_OK;
    case XK_COL: return resolve_column(cx, nd);
    case XK_REF: return resolve_ref(cx, nd);
    case XK_NEG: {
        enum hml_status rc = want_number(cx, "-", nd->args[0]);
        enum hml__xt a = *ty(cx, nd->args[0]);
        *t = a == XT_BOOL ? XT_INT : a;
        return rc;
    }
    case XK_NOT:
        *t = XT_BOOL;
        return want_bool(cx, "not", nd->args[0]);
    case XK_BIN: return check_bin(cx, nd);
    case XK_CALL: return check_call(cx, nd);
    case XK_IN: return check_in(cx, nd);
    }
    HML_ASSERT(!"unknown node kind");
    return HML_EINTERNAL;
}

enum hml_status hml__xcheck(struct hml__xcx *cx)
{
    HML_ASSERT(cx->e->root != NULL);
    HML_ASSERT(cx->ann != NULL);
    return check_node(cx, cx->e->root);
}

enum hml_status hml_expr_check(const struct hml_expr *e, const struct hml_frame *f,
                               const struct hml_expr_env *env, enum hml_type *result_type,
                               struct hml_error *err)
{
    HML_ASSERT(e != NULL);
    HML_ASSERT(f != NULL);
    struct hml__xcx cx = {.e = e, .f = f, .env = env, .n = f->nrows, .err = err};
    cx.ann = hml_calloc(e->nodes_n, sizeof *cx.ann);
    if (!cx.ann) return hml__xoom(&cx);
    enum hml_status rc = hml__xcheck(&cx);
    if (!rc && result_type) *result_type = hml__xt_column_type(cx.ann[e->root->id].t);
    hml_free(cx.ann);
    return rc;
}
