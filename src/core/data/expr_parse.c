/* expr_parse.c — the depth-capped recursive-descent parser, the function whitelist and
 * the expression object's lifetime.
 *
 * Recursion is bounded twice: `depth` counts nested sub-expressions while parsing
 * (parentheses, call arguments, unary chains) against HML_EXPR_DEPTH_MAX, and every
 * node's height is capped at HML_EXPR_HEIGHT_MAX, because left-deep chains such as
 * a + b + c + ... are built by loops but later walked recursively by check and eval. */
#include "core/data/expr_lex.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness/alloc.h"

const struct hml__xfn_def hml__xfns[] = {
    {"abs", XF_ABS, 1, 1, "n", XR_NUMSAME, false, "abs(x)"},
    {"log", XF_LOG, 1, 1, "n", XR_FLOAT, false, "log(x) = log(|x| + 1)"},
    {"log1p", XF_LOG1P, 1, 1, "n", XR_FLOAT, false, "log1p(x)"},
    {"exp", XF_EXP, 1, 1, "n", XR_FLOAT, false, "exp(x)"},
    {"expm1", XF_EXPM1, 1, 1, "n", XR_FLOAT, false, "expm1(x)"},
    {"sqrt", XF_SQRT, 1, 1, "n", XR_FLOAT, false, "sqrt(x) = sqrt(|x|)"},
    {"cbrt", XF_CBRT, 1, 1, "n", XR_FLOAT, false, "cbrt(x)"},
    {"square", XF_SQUARE, 1, 1, "n", XR_NUMSAME, false, "square(x)"},
    {"sign", XF_SIGN, 1, 1, "n", XR_NUMSAME, false, "sign(x)"},
    {"clip", XF_CLIP, 3, 3, "nnn", XR_NUMSAME, false, "clip(x, lo, hi)"},
    {"power", XF_POWER, 2, 2, "nn", XR_FLOAT, false, "power(x, p)"},
    {"reciprocal", XF_RECIPROCAL, 1, 1, "n", XR_FLOAT, false, "reciprocal(x)"},
    {"minimum", XF_MINIMUM, 2, 2, "nn", XR_NUMSAME, false, "minimum(a, b)"},
    {"maximum", XF_MAXIMUM, 2, 2, "nn", XR_NUMSAME, false, "maximum(a, b)"},
    {"safe_div", XF_SAFE_DIV, 2, 3, "nnn", XR_FLOAT, false, "safe_div(a, b[, default = 0])"},
    {"isnull", XF_ISNULL, 1, 1, "a", XR_BOOL, false, "isnull(x)"},
    {"coalesce", XF_COALESCE, 2, HML_EXPR_ARGS_MAX, "a", XR_UNIFY, false, "coalesce(a, b, ...)"},
    {"round", XF_ROUND, 1, 2, "nK", XR_FLOAT, false, "round(x[, digits])"},
    {"floor", XF_FLOOR, 1, 1, "n", XR_FLOAT, false, "floor(x)"},
    {"ceil", XF_CEIL, 1, 1, "n", XR_FLOAT, false, "ceil(x)"},
    {"sin_cycle", XF_SIN_CYCLE, 2, 2, "nn", XR_FLOAT, false, "sin_cycle(x, period)"},
    {"cos_cycle", XF_COS_CYCLE, 2, 2, "nn", XR_FLOAT, false, "cos_cycle(x, period)"},
    {"zscore", XF_ZSCORE, 1, 1, "n", XR_FLOAT, true, "zscore(x)"},
    {"minmax", XF_MINMAX, 1, 1, "n", XR_FLOAT, true, "minmax(x)"},
    {"rank_pct", XF_RANK_PCT, 1, 1, "n", XR_FLOAT, true, "rank_pct(x)"},
    {"winsorize", XF_WINSORIZE, 3, 3, "nKK", XR_FLOAT, true, "winsorize(x, lo_q, hi_q)"},
    {"pct_of_total", XF_PCT_OF_TOTAL, 1, 1, "n", XR_FLOAT, true, "pct_of_total(x)"},
    {"str_contains", XF_STR_CONTAINS, 2, 2, "sP", XR_BOOL, false, "str_contains(s, 'sub')"},
    {"str_extract", XF_STR_EXTRACT, 2, 2, "sP", XR_STR, false, "str_extract(s, 'pattern')"},
    {"str_len", XF_STR_LEN, 1, 1, "s", XR_INT, false, "str_len(s)"},
    {"lower", XF_LOWER, 1, 1, "s", XR_STR, false, "lower(s)"},
    {"upper", XF_UPPER, 1, 1, "s", XR_STR, false, "upper(s)"},
    {"year", XF_YEAR, 1, 1, "d", XR_INT, false, "year(date)"},
    {"month", XF_MONTH, 1, 1, "d", XR_INT, false, "month(date)"},
    {"day", XF_DAY, 1, 1, "d", XR_INT, false, "day(date)"},
    {"dayofweek", XF_DAYOFWEEK, 1, 1, "d", XR_INT, false, "dayofweek(date) (Monday = 0)"},
    {"if", XF_IF, 3, 3, "baa", XR_UNIFY, false, "if(cond, a, b)"},
    {"where", XF_IF, 3, 3, "baa", XR_UNIFY, false, "where(cond, a, b)"},
};
const size_t hml__xfns_n = sizeof hml__xfns / sizeof hml__xfns[0];

const struct hml__xfn_def *hml__xfn_get(enum hml__xfn fn)
{
    for (size_t i = 0; i < hml__xfns_n; i++)
        if (hml__xfns[i].fn == fn) return &hml__xfns[i];
    HML_ASSERT(!"function missing from hml__xfns");
    return NULL;
}

/* ---- the parser ---------------------------------------------------------------------- */

struct ps {
    struct hml__lex lx;
    struct hml__tok t; /* the current token */
    struct hml_expr *e;
    unsigned depth;
    struct hml_error *err;
};

static enum hml_status next(struct ps *ps) { return hml__lex_next(&ps->lx, &ps->t); }

static enum hml_status oom(struct ps *ps)
{
    hml_fail(ps->err, HML_ENOMEM, "expr", "out of memory while parsing the formula");
    return HML_ENOMEM;
}

static enum hml_status unexpected(struct ps *ps, const char *hint)
{
    char tmp[64];
    return hml__xfail(ps->err, HML_EINVAL, ps->t.at, hint, "unexpected %s",
                         hml__tok_text(&ps->t, tmp, sizeof tmp));
}

static enum hml_status new_node(struct ps *ps, enum hml__xkind kind, struct hml__xpos at,
                                struct hml__xnode **out)
{
    struct hml_expr *e = ps->e;
    if (e->nodes_n >= HML_EXPR_NODES_MAX)
        return hml__xfail(ps->err, HML_ELIMIT, at,
                             "split the formula into features referenced with @name "
                             "(the limit is HML_EXPR_NODES_MAX = 4096)",
                             "formula has more than %u terms", HML_EXPR_NODES_MAX);
    if (e->nodes_n == e->nodes_cap) {
        size_t cap = e->nodes_cap ? e->nodes_cap * 2 : 16;
        struct hml__xnode **p = hml_realloc(e->nodes, cap * sizeof *p);
        if (!p) return oom(ps);
        e->nodes = p;
        e->nodes_cap = cap;
    }
    struct hml__xnode *nd = hml_calloc(1, sizeof *nd);
    if (!nd) return oom(ps);
    nd->kind = kind;
    nd->id = (uint32_t)e->nodes_n;
    nd->at = nd->start = at;
    nd->height = 1;
    e->nodes[e->nodes_n++] = nd;
    *out = nd;
    return HML_OK;
}

/* Attaches children (copied into a new array) and enforces the height cap. */
static enum hml_status set_args(struct ps *ps, struct hml__xnode *nd, struct hml__xnode **args,
                                size_t n)
{
    HML_ASSERT(nd->args == NULL);
    HML_ASSERT(n <= HML_EXPR_LIST_MAX + 1);
    nd->args = hml_malloc((n ? n : 1) * sizeof *args);
    if (!nd->args) return oom(ps);
    memcpy(nd->args, args, n * sizeof *args);
    nd->nargs = (uint32_t)n;
    for (size_t i = 0; i < n; i++)
        if (args[i]->height + 1 > nd->height) nd->height = args[i]->height + 1;
    if (nd->height > HML_EXPR_HEIGHT_MAX)
        return hml__xfail(ps->err, HML_ELIMIT, nd->at,
                             "split long chains into features referenced with @name "
                             "(the limit is HML_EXPR_HEIGHT_MAX = 256)",
                             "formula is more than %u operations deep", HML_EXPR_HEIGHT_MAX);
    return HML_OK;
}

static enum hml_status enter(struct ps *ps)
{
    if (++ps->depth > HML_EXPR_DEPTH_MAX)
        return hml__xfail(ps->err, HML_ELIMIT, ps->t.at,
                             "simplify the formula or split it into features referenced with "
                             "@name (the limit is HML_EXPR_DEPTH_MAX = 64)",
                             "formula nests deeper than %u levels", HML_EXPR_DEPTH_MAX);
    return HML_OK;
}

static enum hml_status parse_expr(struct ps *ps, struct hml__xnode **out);
static enum hml_status parse_unary(struct ps *ps, struct hml__xnode **out);

static enum hml_status binary(struct ps *ps, int op, struct hml__xpos at, struct hml__xnode *l,
                              struct hml__xnode *r, struct hml__xnode **out)
{
    struct hml__xnode *nd;
    enum hml_status rc = new_node(ps, XK_BIN, at, &nd);
    if (rc) return rc;
    nd->op = op;
    nd->start = l->start;
    struct hml__xnode *args[2] = {l, r};
    *out = nd;
    return set_args(ps, nd, args, 2);
}

/* A string literal node with its escapes decoded; also notes whether it spells a date. */
static enum hml_status string_node(struct ps *ps, struct hml__xnode **out)
{
    enum hml_status rc = new_node(ps, XK_STR, ps->t.at, out);
    if (rc) return rc;
    struct hml__xnode *nd = *out;
    nd->text = hml__lex_unescape(ps->t.body, ps->t.body_len, &nd->len);
    if (!nd->text) return oom(ps);
    nd->is_date = hml_date_parse(nd->text, nd->len, &nd->days);
    return HML_OK;
}

static enum hml_status name_node(struct ps *ps, enum hml__xkind kind, struct hml__xnode **out)
{
    enum hml_status rc = new_node(ps, kind, ps->t.at, out);
    if (rc) return rc;
    (*out)->text = hml_strndup(ps->t.body, ps->t.body_len);
    if (!(*out)->text) return oom(ps);
    (*out)->len = ps->t.body_len;
    return HML_OK;
}

/* Literals and names: everything that is one token. */
static enum hml_status parse_atom(struct ps *ps, struct hml__xnode **out)
{
    enum hml_status rc;
    switch (ps->t.k) {
    case TK_INT:
    case TK_NUM:
        if ((rc = new_node(ps, ps->t.k == TK_INT ? XK_INT : XK_NUM, ps->t.at, out))) return rc;
        (*out)->ival = ps->t.ival;
        (*out)->num = ps->t.num;
        break;
    case TK_STR:
        if ((rc = string_node(ps, out))) return rc;
        break;
    case TK_TRUE:
    case TK_FALSE:
        if ((rc = new_node(ps, XK_BOOL, ps->t.at, out))) return rc;
        (*out)->ival = ps->t.k == TK_TRUE;
        break;
    case TK_NULL:
        if ((rc = new_node(ps, XK_NULL, ps->t.at, out))) return rc;
        break;
    case TK_NAME:
    case TK_QNAME:
        if ((rc = name_node(ps, XK_COL, out))) return rc;
        break;
    case TK_REF:
        if ((rc = name_node(ps, XK_REF, out))) return rc;
        break;
    default:
        return unexpected(ps, "expected a value: a column name, number, 'string', true, false, "
                              "null, @feature, a function call or '('");
    }
    return next(ps);
}

static enum hml_status expect(struct ps *ps, enum hml__tk k, const char *what,
                              struct hml__xpos opened)
{
    if (ps->t.k == k) return next(ps);
    char tmp[64], hint[160];
    snprintf(hint, sizeof hint, "add %s to close the one opened at %u:%u", what, opened.line,
             opened.col);
    return hml__xfail(ps->err, HML_EINVAL, ps->t.at, hint, "expected %s, found %s", what,
                         hml__tok_text(&ps->t, tmp, sizeof tmp));
}


/* ---- calls and lists ---------------------------------------------------------------- */

static enum hml_status unknown_function(struct ps *ps, const struct hml__tok *t)
{
    const char *names[sizeof hml__xfns / sizeof hml__xfns[0]];
    for (size_t i = 0; i < hml__xfns_n; i++) names[i] = hml__xfns[i].name;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(t->len < 63 ? t->len : 63), t->p);
    return hml__xunknown(ps->err, HML_EINVAL, "function", name, t->at, names, hml__xfns_n);
}

static const struct hml__xfn_def *find_function(const char *name, size_t len)
{
    for (size_t i = 0; i < hml__xfns_n; i++)
        if (strlen(hml__xfns[i].name) == len && !memcmp(hml__xfns[i].name, name, len))
            return &hml__xfns[i];
    return NULL;
}

/* A growable list of child nodes, capped at `max`. */
struct kids {
    struct hml__xnode **v;
    size_t n, cap;
};

static enum hml_status kids_push(struct ps *ps, struct kids *k, struct hml__xnode *x, size_t max,
                                 const char *hint, const char *what)
{
    if (k->n >= max)
        return hml__xfail(ps->err, HML_ELIMIT, x->start, hint, "more than %zu %s", max - 1, what);
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 8;
        struct hml__xnode **p = hml_realloc(k->v, cap * sizeof *p);
        if (!p) return oom(ps);
        k->v = p;
        k->cap = cap;
    }
    k->v[k->n++] = x;
    return HML_OK;
}

static enum hml_status arity(struct ps *ps, const struct hml__xfn_def *def, const char *name,
                             struct hml__xpos at, size_t got)
{
    if (got >= def->min && got <= def->max) return HML_OK;
    char want[48];
    if (def->min == def->max)
        snprintf(want, sizeof want, "%u argument%s", def->min, def->min == 1 ? "" : "s");
    else if (def->max < HML_EXPR_ARGS_MAX)
        snprintf(want, sizeof want, "%u to %u arguments", def->min, def->max);
    else
        snprintf(want, sizeof want, "at least %u arguments", def->min);
    char hint[128];
    snprintf(hint, sizeof hint, "signature: %s", def->sig);
    return hml__xfail(ps->err, HML_EINVAL, at, hint, "function '%s' takes %s, got %zu", name,
                         want, got);
}

static bool is_number(const struct hml__xnode *x) { return x->kind == XK_NUM || x->kind == XK_INT; }
static double number_of(const struct hml__xnode *x)
{
    return x->kind == XK_INT ? (double)x->ival : x->num;
}

static enum hml_status compile_pattern(struct ps *ps, struct hml__xnode *pat)
{
    if (pat->len > HML_EXPR_PATTERN_MAX)
        return hml__xfail(ps->err, HML_ELIMIT, pat->start,
                             "shorten the pattern (the limit is HML_EXPR_PATTERN_MAX = 256)",
                             "pattern is %zu bytes, over the limit of %u", pat->len,
                             HML_EXPR_PATTERN_MAX);
    char why[160];
    bool is_oom = false;
    pat->re = hml__re_compile(pat->text, pat->len, why, sizeof why, &is_oom);
    if (pat->re) return HML_OK;
    if (is_oom) return oom(ps);
    return hml__xfail(ps->err, HML_EINVAL, pat->start,
                         "supported: literals, ., [a-z] [^...], \\d \\w \\s, (...), (?:...), |, "
                         "* + ? {m,n} (and lazy *? +? ?\?), ^ $",
                         "bad pattern in str_extract(): %s", why);
}

/* Arguments that must be literals (round digits, quantiles, patterns) are checked here,
 * once, so that evaluation never meets a bad one. */
static enum hml_status literal_args(struct ps *ps, const struct hml__xfn_def *def,
                                    struct hml__xnode *nd)
{
    char hint[160];
    snprintf(hint, sizeof hint, "signature: %s", def->sig);
    size_t nletters = strlen(def->args);
    for (uint32_t i = 0; i < nd->nargs; i++) {
        char want = def->args[i < nletters ? i : nletters - 1];
        const struct hml__xnode *a = nd->args[i];
        if (want == 'K' && !is_number(a))
            return hml__xfail(ps->err, HML_EINVAL, a->start, hint,
                                 "argument %u of %s() must be a number literal", i + 1, nd->text);
        if (want == 'P' && a->kind != XK_STR)
            return hml__xfail(ps->err, HML_EINVAL, a->start, hint,
                                 "argument %u of %s() must be a 'string' literal", i + 1, nd->text);
    }
    if (def->fn == XF_ROUND && nd->nargs == 2) {
        const struct hml__xnode *d = nd->args[1];
        if (d->kind != XK_INT || d->ival < -15 || d->ival > 15)
            return hml__xfail(ps->err, HML_EINVAL, d->start, "e.g. round(x, 2) or round(x, -1)",
                                 "round() digits must be a whole number from -15 to 15");
    }
    if (def->fn == XF_WINSORIZE) {
        double lo = number_of(nd->args[1]), hi = number_of(nd->args[2]);
        if (!(lo >= 0 && lo <= 1) || !(hi >= 0 && hi <= 1) || lo > hi)
            return hml__xfail(ps->err, HML_EINVAL, nd->args[1]->start,
                                 "e.g. winsorize(x, 0.01, 0.99)",
                                 "winsorize() quantiles must satisfy 0 <= lo_q <= hi_q <= 1, "
                                 "got %g and %g", lo, hi);
    }
    if (def->fn == XF_STR_EXTRACT) return compile_pattern(ps, nd->args[1]);
    return HML_OK;
}

static enum hml_status parse_call(struct ps *ps, struct hml__xnode **out)
{
    struct hml__tok name = ps->t;
    const struct hml__xfn_def *def = find_function(name.p, name.len);
    if (!def) return unknown_function(ps, &name);
    enum hml_status rc = name_node(ps, XK_CALL, out);
    if (rc || (rc = next(ps))) return rc;
    struct hml__xnode *nd = *out;
    nd->op = def->fn;
    HML_ASSERT(ps->t.k == TK_LP); /* TK_FUNC promises it */
    struct hml__xpos opened = ps->t.at;
    struct kids k = {0};
    if ((rc = next(ps))) return rc;
    while (ps->t.k != TK_RP) {
        struct hml__xnode *x;
        if ((rc = parse_expr(ps, &x)) ||
            (rc = kids_push(ps, &k, x, HML_EXPR_ARGS_MAX + 1,
                            "the limit is HML_EXPR_ARGS_MAX = 32", "arguments")))
            goto done;
        if (ps->t.k != TK_COMMA) break;
        if ((rc = next(ps))) goto done;
    }
    if ((rc = expect(ps, TK_RP, "')'", opened)) || (rc = arity(ps, def, nd->text, nd->at, k.n)) ||
        (rc = set_args(ps, nd, k.v, k.n)))
        goto done;
    rc = literal_args(ps, def, nd);
done:
    hml_free(k.v);
    return rc;
}

static enum hml_status list_item(struct ps *ps, struct kids *k)
{
    struct hml__xnode *x;
    enum hml_status rc = parse_unary(ps, &x);
    if (rc) return rc;
    if (x->kind == XK_NULL)
        return hml__xfail(ps->err, HML_EINVAL, x->start,
                             "test for nulls with isnull(x) or (x in [...] or isnull(x))",
                             "null cannot be a list value");
    if (x->kind != XK_NUM && x->kind != XK_INT && x->kind != XK_STR && x->kind != XK_BOOL)
        return hml__xfail(ps->err, HML_EINVAL, x->start,
                             "lists hold literals: numbers, 'strings', true or false",
                             "list values must be literals");
    return kids_push(ps, k, x, HML_EXPR_LIST_MAX + 1, "the limit is HML_EXPR_LIST_MAX = 1024",
                     "list values");
}

/* lhs ['not'] 'in' '[' literal, ... ']' */
static enum hml_status parse_in(struct ps *ps, struct hml__xnode **out)
{
    bool negated = ps->t.k == TK_NOT;
    struct hml__xpos at = ps->t.at;
    enum hml_status rc;
    if (negated && ((rc = next(ps)) || ps->t.k != TK_IN))
        return rc ? rc : unexpected(ps, "after a value, 'not' can only start 'not in [...]'");
    if ((rc = next(ps))) return rc;
    if (ps->t.k != TK_LB) return unexpected(ps, "write the values as a list: x in [1, 2, 3]");
    struct hml__xpos opened = ps->t.at;
    struct kids k = {0};
    if ((rc = next(ps)) || (rc = enter(ps)) || (rc = kids_push(ps, &k, *out, 2, "", ""))) goto done;
    while (ps->t.k != TK_RB) {
        if ((rc = list_item(ps, &k))) goto done;
        if (ps->t.k != TK_COMMA) break;
        if ((rc = next(ps))) goto done;
    }
    ps->depth--;
    if ((rc = expect(ps, TK_RB, "']'", opened))) goto done;
    if (k.n == 1) {
        rc = hml__xfail(ps->err, HML_EINVAL, opened, "write at least one value: x in [1, 2]",
                           "empty list");
        goto done;
    }
    struct hml__xnode *lhs = *out;
    if ((rc = new_node(ps, XK_IN, at, out))) goto done;
    (*out)->op = negated;
    (*out)->start = lhs->start;
    rc = set_args(ps, *out, k.v, k.n);
done:
    hml_free(k.v);
    return rc;
}

static enum hml_status parse_primary(struct ps *ps, struct hml__xnode **out)
{
    if (ps->t.k == TK_FUNC) return parse_call(ps, out);
    if (ps->t.k != TK_LP) return parse_atom(ps, out);
    struct hml__xpos opened = ps->t.at;
    enum hml_status rc = next(ps);
    if (rc || (rc = parse_expr(ps, out))) return rc;
    (*out)->start = opened;
    return expect(ps, TK_RP, "')'", opened);
}

/* primary ['**' unary]: right-associative, and the exponent may carry a sign (2**-1). */
static enum hml_status parse_pow(struct ps *ps, struct hml__xnode **out)
{
    enum hml_status rc = parse_primary(ps, out);
    if (rc || ps->t.k != TK_POW) return rc;
    struct hml__xpos at = ps->t.at;
    struct hml__xnode *r;
    if ((rc = next(ps)) || (rc = enter(ps)) || (rc = parse_unary(ps, &r))) return rc;
    ps->depth--;
    return binary(ps, XO_POW, at, *out, r, out);
}

static enum hml_status parse_unary(struct ps *ps, struct hml__xnode **out)
{
    if (ps->t.k != TK_MINUS && ps->t.k != TK_PLUS) return parse_pow(ps, out);
    bool neg = ps->t.k == TK_MINUS;
    struct hml__xpos at = ps->t.at;
    struct hml__xnode *x;
    enum hml_status rc;
    if ((rc = next(ps)) || (rc = enter(ps)) || (rc = parse_unary(ps, &x))) return rc;
    ps->depth--;
    if (!neg) {
        *out = x;
        return HML_OK;
    }
    /* Fold -literal so that -1 is still a literal where literals are required. */
    if ((x->kind == XK_NUM || (x->kind == XK_INT && x->ival != INT64_MIN)) && x->nargs == 0) {
        x->num = -x->num;
        x->ival = -x->ival;
        x->start = x->at = at;
        *out = x;
        return HML_OK;
    }
    if ((rc = new_node(ps, XK_NEG, at, out))) return rc;
    return set_args(ps, *out, &x, 1);
}

static enum hml_status parse_mul(struct ps *ps, struct hml__xnode **out)
{
    enum hml_status rc = parse_unary(ps, out);
    while (!rc && (ps->t.k == TK_STAR || ps->t.k == TK_SLASH || ps->t.k == TK_PCT)) {
        int op = ps->t.k == TK_STAR ? XO_MUL : ps->t.k == TK_SLASH ? XO_DIV : XO_MOD;
        struct hml__xpos at = ps->t.at;
        struct hml__xnode *r;
        if ((rc = next(ps)) || (rc = parse_unary(ps, &r))) return rc;
        rc = binary(ps, op, at, *out, r, out);
    }
    return rc;
}

static enum hml_status parse_add(struct ps *ps, struct hml__xnode **out)
{
    enum hml_status rc = parse_mul(ps, out);
    while (!rc && (ps->t.k == TK_PLUS || ps->t.k == TK_MINUS)) {
        int op = ps->t.k == TK_PLUS ? XO_ADD : XO_SUB;
        struct hml__xpos at = ps->t.at;
        struct hml__xnode *r;
        if ((rc = next(ps)) || (rc = parse_mul(ps, &r))) return rc;
        rc = binary(ps, op, at, *out, r, out);
    }
    return rc;
}

static int cmp_op(enum hml__tk k)
{
    switch (k) {
    case TK_EQ: return XO_EQ;
    case TK_NE: return XO_NE;
    case TK_LT: return XO_LT;
    case TK_LE: return XO_LE;
    case TK_GT: return XO_GT;
    case TK_GE: return XO_GE;
    default: return -1;
    }
}

static enum hml_status parse_cmp(struct ps *ps, struct hml__xnode **out)
{
    enum hml_status rc = parse_add(ps, out);
    if (rc) return rc;
    int op = cmp_op(ps->t.k);
    if (op >= 0) {
        struct hml__xpos at = ps->t.at;
        struct hml__xnode *r;
        if ((rc = next(ps)) || (rc = parse_add(ps, &r))) return rc;
        if ((rc = binary(ps, op, at, *out, r, out))) return rc;
    } else if (ps->t.k == TK_IN || ps->t.k == TK_NOT) {
        if ((rc = parse_in(ps, out))) return rc;
    } else {
        return HML_OK;
    }
    if (cmp_op(ps->t.k) >= 0 || ps->t.k == TK_IN)
        return hml__xfail(ps->err, HML_EINVAL, ps->t.at,
                             "comparisons do not chain; write (a < b) and (b < c)",
                             "a comparison cannot follow another comparison");
    return HML_OK;
}

static enum hml_status parse_not(struct ps *ps, struct hml__xnode **out)
{
    if (ps->t.k != TK_NOT) return parse_cmp(ps, out);
    struct hml__xpos at = ps->t.at;
    struct hml__xnode *x;
    enum hml_status rc;
    if ((rc = next(ps)) || (rc = enter(ps)) || (rc = parse_not(ps, &x))) return rc;
    ps->depth--;
    if ((rc = new_node(ps, XK_NOT, at, out))) return rc;
    return set_args(ps, *out, &x, 1);
}

static enum hml_status parse_and(struct ps *ps, struct hml__xnode **out)
{
    enum hml_status rc = parse_not(ps, out);
    while (!rc && ps->t.k == TK_AND) {
        struct hml__xpos at = ps->t.at;
        struct hml__xnode *r;
        if ((rc = next(ps)) || (rc = parse_not(ps, &r))) return rc;
        rc = binary(ps, XO_AND, at, *out, r, out);
    }
    return rc;
}

static enum hml_status parse_expr(struct ps *ps, struct hml__xnode **out)
{
    enum hml_status rc = enter(ps);
    if (rc || (rc = parse_and(ps, out))) return rc;
    while (ps->t.k == TK_OR) {
        struct hml__xpos at = ps->t.at;
        struct hml__xnode *r;
        if ((rc = next(ps)) || (rc = parse_and(ps, &r))) return rc;
        if ((rc = binary(ps, XO_OR, at, *out, r, out))) return rc;
    }
    ps->depth--;
    return HML_OK;
}

/* ---- names read, for hml_expr_columns / hml_expr_refs ------------------------------- */

static bool add_name(char ***list, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i], name)) return true;
    char **p = hml_realloc(*list, (*n + 1) * sizeof *p);
    if (!p) return false;
    *list = p;
    p[*n] = (char *)name; /* borrowed from the node, which lives as long as the list */
    (*n)++;
    return true;
}

static enum hml_status collect_names(struct ps *ps)
{
    struct hml_expr *e = ps->e;
    for (size_t i = 0; i < e->nodes_n; i++) {
        const struct hml__xnode *nd = e->nodes[i];
        bool ok = true;
        if (nd->kind == XK_COL) ok = add_name(&e->cols, &e->cols_n, nd->text);
        if (nd->kind == XK_REF) ok = add_name(&e->refs, &e->refs_n, nd->text);
        if (nd->kind == XK_CALL && hml__xfn_get(nd->op)->columnwise) e->columnwise = true;
        if (!ok) return oom(ps);
    }
    return HML_OK;
}

/* ---- public API ------------------------------------------------------------------------ */

static enum hml_status check_length(const char *src, size_t len, struct hml_error *err)
{
    if (len > HML_EXPR_LEN_MAX) {
        hml_fail(err, HML_ELIMIT, "expr", "formula is %zu bytes, over the limit of %u", len,
                 HML_EXPR_LEN_MAX);
        return hml_hint(err, "split it into features referenced with @name "
                             "(the limit is HML_EXPR_LEN_MAX = 8192)");
    }
    for (size_t i = 0; i < len; i++)
        if (src[i] != ' ' && src[i] != '\t' && src[i] != '\r' && src[i] != '\n') return HML_OK;
    hml_fail(err, HML_EINVAL, "expr", "empty formula");
    return hml_hint(err, "write an expression, e.g. fare / (sibsp + 1) or age >= 18");
}

enum hml_status hml_expr_parse(const char *src, struct hml_expr **out, struct hml_error *err)
{
    HML_ASSERT(src != NULL);
    HML_ASSERT(out != NULL);
    size_t len = strlen(src);
    enum hml_status rc = check_length(src, len, err);
    if (rc) return rc;
    struct ps ps = {.err = err};
    if (!(ps.e = hml_calloc(1, sizeof *ps.e)) || !(ps.e->src = hml_strndup(src, len))) {
        hml_free(ps.e);
        hml_fail(err, HML_ENOMEM, "expr", "out of memory while parsing the formula");
        return HML_ENOMEM;
    }
    hml__lex_init(&ps.lx, ps.e->src, len, err);
    if (!(rc = next(&ps)) && !(rc = parse_expr(&ps, &ps.e->root))) {
        if (ps.t.k != TK_EOF)
            rc = unexpected(&ps, "expected an operator (+ - * / % ** == and or in ...) or the "
                                 "end of the formula");
        else
            rc = collect_names(&ps);
    }
    if (rc) {
        hml_expr_free(ps.e);
        return rc;
    }
    HML_ASSERT(ps.depth == 0);
    *out = ps.e;
    return HML_OK;
}

void hml_expr_free(struct hml_expr *e)
{
    if (!e) return;
    for (size_t i = 0; i < e->nodes_n; i++) {
        struct hml__xnode *nd = e->nodes[i];
        hml_free(nd->args);
        hml_free(nd->text);
        hml__re_free(nd->re);
        hml_free(nd);
    }
    hml_free(e->nodes);
    hml_free(e->cols);
    hml_free(e->refs);
    hml_free(e->src);
    hml_free(e);
}

const char *hml_expr_source(const struct hml_expr *e) { return e->src; }

const char *const *hml_expr_columns(const struct hml_expr *e, size_t *n)
{
    *n = e->cols_n;
    return (const char *const *)e->cols;
}

const char *const *hml_expr_refs(const struct hml_expr *e, size_t *n)
{
    *n = e->refs_n;
    return (const char *const *)e->refs;
}

bool hml_expr_columnwise(const struct hml_expr *e) { return e->columnwise; }
