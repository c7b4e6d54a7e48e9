/* expr_int.h — private to expr_*.c: the tree, the function table, per-call state,
 * evaluated values and the regex engine. Not part of the public API (prefix hml__). */
#ifndef HML_EXPR_INT_H
#define HML_EXPR_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "harness/expr.h"

/* Value types as the checker sees them. XT_NULL is the type of the literal `null`
 * (and of arithmetic on it): it unifies with every other type. */
enum hml__xt { XT_NULL = 0, XT_INT, XT_FLOAT, XT_BOOL, XT_STR, XT_DATE };

enum hml__xkind {
    XK_NUM,  /* float literal: num           */
    XK_INT,  /* int literal: ival            */
    XK_STR,  /* string literal: text, len    */
    XK_BOOL, /* ival 0/1                     */
    XK_NULL,
    XK_COL,  /* column: text                 */
    XK_REF,  /* @feature: text               */
    XK_NEG,  /* args[0]                      */
    XK_NOT,  /* args[0]                      */
    XK_BIN,  /* op = enum hml__xop           */
    XK_CALL, /* op = enum hml__xfn           */
    XK_IN    /* args[0] in args[1..]; op = 1 for "not in" */
};

enum hml__xop {
    XO_ADD, XO_SUB, XO_MUL, XO_DIV, XO_MOD, XO_POW,
    XO_EQ, XO_NE, XO_LT, XO_LE, XO_GT, XO_GE,
    XO_AND, XO_OR
};

/* NOTE: when adding a function, update hml__xfns[] (expr_parse.c), the checker's
 * return rules (expr_check.c), hml__xcall (expr_func.c), the list in expr.h and the
 * fixture cases in tests/fixtures/expr/gen_expr.py. */
enum hml__xfn {
    XF_ABS, XF_LOG, XF_LOG1P, XF_EXP, XF_EXPM1, XF_SQRT, XF_CBRT, XF_SQUARE, XF_SIGN,
    XF_CLIP, XF_POWER, XF_RECIPROCAL, XF_MINIMUM, XF_MAXIMUM, XF_SAFE_DIV, XF_ISNULL,
    XF_COALESCE, XF_ROUND, XF_FLOOR, XF_CEIL, XF_SIN_CYCLE, XF_COS_CYCLE, XF_ZSCORE,
    XF_MINMAX, XF_RANK_PCT, XF_WINSORIZE, XF_PCT_OF_TOTAL, XF_STR_CONTAINS, XF_STR_EXTRACT,
    XF_STR_LEN, XF_LOWER, XF_UPPER, XF_YEAR, XF_MONTH, XF_DAY, XF_DAYOFWEEK, XF_IF
};

/* How a call's result type follows from its arguments. */
enum hml__xret {
    XR_FLOAT,   /* always float                                   */
    XR_INT,     /* always int                                     */
    XR_BOOL,    /* always bool                                    */
    XR_STR,     /* always string                                  */
    XR_NUMSAME, /* int when every numeric argument is int, else float */
    XR_UNIFY,   /* the common type of the value arguments         */
};

/* One whitelisted function. args: one letter per position (the last repeats for
 * variadic calls): n number, b bool, s string, d date, a any, K number literal,
 * P string literal. */
struct hml__xfn_def {
    const char *name;
    enum hml__xfn fn;
    unsigned min, max;
    const char *args;
    enum hml__xret ret;
    bool columnwise;
    const char *sig;
};

extern const struct hml__xfn_def hml__xfns[];
extern const size_t hml__xfns_n;
const struct hml__xfn_def *hml__xfn_get(enum hml__xfn fn);

struct hml__xpos {
    uint32_t line, col;
};

struct hml__re;

struct hml__xnode {
    enum hml__xkind kind;
    int op;
    uint32_t id;            /* index into hml_expr.nodes and the per-call annotations */
    uint32_t height;        /* 1 for leaves                                         */
    struct hml__xpos at;    /* the operator, name or literal token                  */
    struct hml__xpos start; /* the first token of the subexpression                 */
    struct hml__xnode **args;
    uint32_t nargs;
    char *text;             /* names and string literals, NUL-terminated            */
    size_t len;
    double num;
    int64_t ival;
    int32_t days;           /* XK_STR: the date it spells, when is_date             */
    bool is_date;
    struct hml__re *re;     /* str_extract's compiled pattern                       */
};

struct hml_expr {
    char *src;
    struct hml__xnode *root;
    struct hml__xnode **nodes; /* every node, for freeing and annotation by id */
    size_t nodes_n, nodes_cap;
    char **cols;
    size_t cols_n;
    char **refs;
    size_t refs_n;
    bool columnwise;
};

/* Fails with "<message> at line:col" and the hint; where = "expr". Returns code. */
enum hml_status hml__xfail(struct hml_error *err, enum hml_status code, struct hml__xpos at,
                           const char *hint, const char *fmt, ...) HML_PRINTF(5, 6);
/* Fails with "unknown <what> 'name' at l:c[ — did you mean 'x'?]", filling did_you_mean,
 * valid and the hint through hml_error_choices. Returns code. */
enum hml_status hml__xunknown(struct hml_error *err, enum hml_status code, const char *what,
                              const char *name, struct hml__xpos at, const char *const *names,
                              size_t n);

/* ---- per-call state ---------------------------------------------------------------- */

struct hml__xann {
    enum hml__xt t;
    struct hml_column *col; /* XK_COL / XK_REF: the resolved column (borrowed) */
};

struct hml__xcx {
    const struct hml_expr *e;
    const struct hml_frame *f;
    const struct hml_expr_env *env;
    size_t n;               /* rows */
    struct hml__xann *ann;  /* one per node */
    struct hml_error *err;
};

/* Resolves names and computes every node's type into cx->ann. */
enum hml_status hml__xcheck(struct hml__xcx *cx);

/* An evaluated node: a column of cx->n rows, or a scalar standing for all rows. */
struct hml__xval {
    enum hml__xt t;
    struct hml_column *col; /* NULL for a scalar                            */
    bool owned;             /* col: whether this value holds a reference    */
    bool null;              /* scalar: the null value                       */
    double f;               /* scalar XT_FLOAT                              */
    int64_t i;              /* scalar XT_INT, XT_BOOL (0/1), XT_DATE (days) */
    const char *s;          /* scalar XT_STR: borrowed from the tree or own_s */
    size_t slen;
    char *own_s;            /* a scalar string computed at run time          */
    bool oom;               /* own_s could not be allocated                  */
};

void hml__xval_fini(struct hml__xval *v);
enum hml_status hml__xeval(struct hml__xcx *cx, const struct hml__xnode *nd, struct hml__xval *out);
/* Evaluates a call whose arguments are already evaluated (args[0..nd->nargs)). */
enum hml_status hml__xcall(struct hml__xcx *cx, const struct hml__xnode *nd,
                           struct hml__xval *args, struct hml__xval *out);

/* Column-wise, string and date functions (expr_colwise.c); arguments are not null scalars. */
enum hml_status hml__xcolwise(struct hml__xcx *cx, const struct hml__xnode *nd,
                              struct hml__xval *args, struct hml__xval *out);
enum hml_status hml__xstrfn(struct hml__xcx *cx, const struct hml__xnode *nd,
                            struct hml__xval *args, struct hml__xval *out);
enum hml_status hml__xdatefn(struct hml__xcx *cx, const struct hml__xnode *nd,
                             struct hml__xval *args, struct hml__xval *out);

/* ---- helpers shared by the evaluator files (expr_eval.c) --------------------------- */

enum hml_status hml__xoom(struct hml__xcx *cx);
enum hml_type hml__xt_column_type(enum hml__xt t);
const char *hml__xt_name(enum hml__xt t);

/* A read-only float view of a numeric value: p[i * step] for row i (step 0 = scalar). */
struct hml__fview {
    const double *p;
    size_t step;
    const uint8_t *valid; /* NULL = no nulls */
    double *own;
    double one;
};
enum hml_status hml__fview(struct hml__xcx *cx, const struct hml__xval *v, struct hml__fview *out);
void hml__fview_fini(struct hml__fview *v);

/* The same for int64 (int, bool and date values). */
struct hml__iview {
    const int64_t *p;
    size_t step;
    const uint8_t *valid;
    int64_t *own;
    int64_t one;
};
enum hml_status hml__iview(struct hml__xcx *cx, const struct hml__xval *v, struct hml__iview *out);
void hml__iview_fini(struct hml__iview *v);

/* A result column of type t and n rows whose null bitmap is the AND of a and b (either
 * may be NULL = no nulls); it always has a bitmap so kernels can clear bits. */
enum hml_status hml__xout(struct hml__xcx *cx, enum hml__xt t, size_t n, const uint8_t *a,
                          const uint8_t *b, struct hml_column **out);
/* Zeroes values under nulls, turns non-finite floats into nulls, counts nulls and drops
 * an all-valid bitmap; then stores c into v (owned), or, when scalar, row 0 of c as a
 * scalar (and releases c). */
void hml__xfinish(struct hml_column *c, enum hml__xt t, bool scalar, struct hml__xval *v);
/* The same, trusting the caller about non-finite floats: when nonfinite is false (the
 * kernel saw none while writing), the output is not scanned for them again. */
void hml__xfinish_checked(struct hml_column *c, enum hml__xt t, bool scalar, struct hml__xval *v,
                          bool nonfinite);
/* A scalar null of type t. */
void hml__xnull(struct hml__xval *v, enum hml__xt t);
/* An n-row column holding v: a new reference when v is a column, a broadcast otherwise. */
enum hml_status hml__xcolumn(struct hml__xcx *cx, const struct hml__xval *v, size_t n,
                             struct hml_column **out);

/* A column standing for v over n rows: v's own column (borrowed), or a broadcast of a
 * scalar returned in *tmp too, for the caller to release with hml_column_unref. */
enum hml_status hml__xborrow(struct hml__xcx *cx, const struct hml__xval *v, size_t n,
                             const struct hml_column **out, struct hml_column **tmp);

/* Kernel operations beyond enum hml__xop. */
enum { HML__XK_MIN = 100, HML__XK_MAX, HML__XK_SINC, HML__XK_COSC };
/* r[i] = a op b over n rows (float). Returns true when some r[i] is not finite. */
bool hml__xf_kernel(int op, size_t n, const struct hml__fview *a, const struct hml__fview *b,
                    double *r);
/* The same for int64 (ADD SUB MUL MOD MIN MAX); overflow and % 0 clear the row's bit. */
void hml__xi_kernel(int op, size_t n, const struct hml__iview *a, const struct hml__iview *b,
                    int64_t *r, uint8_t *valid);
/* a op b with result type t (XT_INT uses the int kernels), null-propagating. */
enum hml_status hml__xarith(struct hml__xcx *cx, int op, enum hml__xt t, const struct hml__xval *a,
                            const struct hml__xval *b, struct hml__xval *out);
/* Bytewise string order: <0, 0, >0. */
int hml__xstrcmp(const char *a, size_t na, const char *b, size_t nb);
/* The string in row i of a string value (scalar or column); the row must be valid. */
const char *hml__xstr(const struct hml__xval *v, size_t i, size_t *len);

static inline bool hml__bit(const uint8_t *valid, size_t i)
{
    return !valid || (valid[i >> 3] >> (i & 7)) & 1u;
}
static inline void hml__bit_clear(uint8_t *valid, size_t i)
{
    valid[i >> 3] &= (uint8_t) ~(1u << (i & 7));
}

/* ---- regex subset (expr_re.c) ------------------------------------------------------ */

/* Compiles pat[0..len). On failure writes why (lowercase, no period) and returns NULL;
 * *oom is set when the failure is memory. */
struct hml__re *hml__re_compile(const char *pat, size_t len, char *why, size_t why_cap, bool *oom);
void hml__re_free(struct hml__re *re);
/* Searches s[0..len) for the leftmost match (Python re.search priorities). On a match
 * returns 1 and the span of group 1 (or of the whole match without groups); 0 when there
 * is no match or group 1 did not take part; -1 on OOM. */
int hml__re_search(const struct hml__re *re, const char *s, size_t len, size_t *start,
                   size_t *end);

#endif
