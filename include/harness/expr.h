/* expr.h — the formula language shared by view filter/derive steps, features and conditions.
 *
 * A formula is parsed once (hml_expr_parse) into a small immutable tree, then checked
 * against a frame's columns (hml_expr_check) and evaluated over whole columns at a time
 * (hml_expr_eval): every node produces a typed column (values + null bitmap), never a
 * per-row interpretation. No other code runs: the only functions a formula can reach
 * are the whitelisted ones below.
 *
 * SYNTAX
 *   names      fare, Pclass, `ticket price` (backticks for any other characters)
 *   features   @name or @`name with spaces`, resolved through struct hml_expr_env
 *   literals   12, 1.5, 2e-3, 'text', "text" (escapes \\ \' \" \n \t \r; any other
 *              backslash is kept as written, so '\d+' reaches a pattern intact),
 *              true, false, null
 *   operators  by binding strength, loosest first:
 *                or;  and;  not;  == != < <= > >= in [..] not in [..] (not chainable;
 *                `in` lists hold literals: x in [1, 2], s not in ['a', 'b']);
 *                + -;  * / %;  unary -;  ** (right-associative: 2**3**2 = 2**9,
 *                -2**2 = -4, 2**-1 = 0.5)
 *   calls      if(cond, a, b) (alias where) and the functions listed below
 *
 * TYPES: number (int or float), bool, string, date. An int column stays int through
 * + - * % unary minus, abs, square, sign, clip, minimum, maximum, if, coalesce when every
 * numeric operand is int (bool counts as the int 0/1); anything else numeric is float.
 * / and ** are always float. date - date is the int number of days. Other date
 * arithmetic is an error (use year/month/day/dayofweek).
 *
 * NULLS: arithmetic and functions return null when an input is null; comparisons with
 * null are null, which filters treat as false (hml_expr_filter); and/or follow SQL's
 * three-valued logic (false and null = false, true or null = true); if(null, a, b) takes b;
 * isnull, coalesce and safe_div's default handle nulls explicitly. Writing `x == null`
 * is an error that points to isnull(x).
 * Float results are always finite: division or % by zero, 0/0, overflow to ±inf (exp(1000))
 * and NaN (log1p(-2), (-8)**0.5) all become null. Int overflow in + - * is null.
 * Evaluation cannot fail on data: once a formula has been checked against a frame, the
 * only possible errors are out-of-memory ones. (So if() simply computes both branches.)
 * % follows Python/pandas: the result takes the divisor's sign (-7 % 3 = 2).
 *
 * COMPARISONS: numbers compare by value (int/float mixed); strings compare bytewise
 * (UTF-8 code-point order, case-sensitive, like Python); dates compare with dates or with
 * 'YYYY-MM-DD' string literals (d >= '2020-01-01'); bools compare with bools or numbers.
 *
 * FUNCTIONS (x numeric unless said; "col-wise" ones use the statistics of the whole
 * column, so in a backtest they see every fold — see hml_expr_columnwise):
 *   abs(x)  sign(x)  square(x)            int stays int
 *   log(x) = log(|x| + 1)   sqrt(x) = sqrt(|x|)   (as upstream: safe on negatives)
 *   log1p(x)  exp(x)  expm1(x)  cbrt(x)  reciprocal(x) = 1/x  floor(x)  ceil(x)
 *   power(x, p) = x ** p     clip(x, lo, hi): a null bound is no bound; lo > hi gives hi
 *   minimum(a, b)  maximum(a, b)           null if either is null (numpy semantics)
 *   safe_div(a, b[, default=0])            a / b, or default where b == 0; null if a or b is
 *   isnull(x) -> bool (any type)   coalesce(a, b, ...) first non-null (same type)
 *   round(x[, digits=0])   half to even like numpy/pandas; digits an int literal in -15..15
 *   sin_cycle(x, period) = sin(2*pi*x/period)   cos_cycle(x, period) likewise
 *   zscore(x)  col-wise (x - mean) / std with std ddof=1 (pandas .std()); null if std is 0
 *              or fewer than 2 values
 *   minmax(x)  col-wise (x - min) / (max - min); null if max == min
 *   rank_pct(x) col-wise pandas rank(pct=True): average rank of ties / count of non-null
 *   winsorize(x, lo_q, hi_q) col-wise clip to the lo_q and hi_q quantiles (number literals,
 *              0 <= lo_q <= hi_q <= 1), quantiles by linear interpolation between order
 *              statistics (numpy/pandas default): q-th = s[floor(h)] + (h - floor(h)) *
 *              (s[floor(h)+1] - s[floor(h)]) with h = q * (count - 1)
 *   pct_of_total(x) col-wise x / sum(x) (sum of non-null values; null when the sum is 0)
 *   str_contains(s, 'sub') -> bool, literal substring, case-sensitive
 *   str_extract(s, 'pattern') -> string: the first capture group of the leftmost match,
 *              or the whole match when the pattern has no group; null when no match.
 *              Patterns are a safe regex subset run by a Thompson/Pike NFA — time linear
 *              in the text for every pattern, no backtracking blow-ups: literals, . (any
 *              character but newline), [abc] [^a-z] classes, \d \w \s \D \W \S (ASCII,
 *              like Python's re.ASCII), \t \n and escaped punctuation, groups (...) and
 *              (?:...), alternation |, quantifiers * + ? {m} {m,} {m,n} (m, n <= 100) and
 *              their lazy forms *? +? ??, anchors ^ (start) and $ (end of text).
 *              Back-references, look-around, \b and flags are refused at parse time.
 *              At most HML_EXPR_PATTERN_MAX bytes.
 *   str_len(s) -> int, in characters (code points)
 *   lower(s)  upper(s)   ASCII letters only; other bytes pass through unchanged
 *   year(d) month(d) day(d) dayofweek(d) -> int (date); dayofweek: Monday = 0 (pandas)
 *   if(cond, a, b) / where(cond, a, b): a where cond is true, b where false or null
 *
 * ERRORS name the offending token with its 1-based line:column (in characters):
 *   "unknown column 'Fare' at 1:9 — did you mean 'fare'?" (HML_ENOTFOUND; did_you_mean,
 *   valid and hint filled by hml_error_choices). Unknown functions, wrong arity, bad
 *   literals and type mismatches are HML_EINVAL with the signature or expected type in
 *   the hint; size limits are HML_ELIMIT with the knob in the hint. err->where = "expr".
 *
 * THREAD SAFETY: a parsed expression is never modified after hml_expr_parse, and
 * evaluation never writes to the frame; check, eval and filter may run concurrently on
 * the same expression. One exception: a formula that is just a name returns a new
 * reference to that column, and reference counts are not atomic.
 */
#ifndef HML_EXPR_H
#define HML_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include "harness/err.h"
#include "harness/frame.h"

#define HML_EXPR_LEN_MAX 8192u     /* bytes of formula text                          */
#define HML_EXPR_DEPTH_MAX 64u     /* nesting of ( ), calls, lists and unary chains   */
#define HML_EXPR_HEIGHT_MAX 256u   /* height of the tree (long a + b + c ... chains)  */
#define HML_EXPR_NODES_MAX 4096u   /* nodes in the tree                               */
#define HML_EXPR_ARGS_MAX 32u      /* arguments of one call (coalesce)                */
#define HML_EXPR_LIST_MAX 1024u    /* elements of an `in [...]` list                  */
#define HML_EXPR_PATTERN_MAX 256u  /* bytes of a str_extract pattern                  */

struct hml_expr;

/* Resolves @name when env->features has no such column. Returns a borrowed column
 * that must stay alive and unchanged until the eval/check call returns, or NULL when
 * the name is unknown. ctx is env->ctx. */
typedef struct hml_column *(*hml_expr_lookup_fn)(void *ctx, const char *name);

/* Where @feature references come from. Any field may be NULL; env itself may be NULL
 * (then every @ref is an unknown-feature error). Columns found either way must have as
 * many rows as the frame being evaluated. */
struct hml_expr_env {
    const struct hml_frame *features; /* @name = the column of that name, first choice */
    hml_expr_lookup_fn lookup;        /* fallback, e.g. a feature store                  */
    void *ctx;
};

/* Parses src (NUL-terminated, at most HML_EXPR_LEN_MAX bytes). Syntax, function names,
 * arity and literal arguments (round digits, winsorize quantiles, patterns) are checked
 * here; column names and types are checked against a frame by hml_expr_check.
 * out: on success a new expression, freed with hml_expr_free.
 * Errors: HML_EINVAL (syntax, unknown function, arity, bad literal), HML_ELIMIT
 * (length, depth, height, nodes, list or argument counts), HML_ENOMEM. */
enum hml_status hml_expr_parse(const char *src, struct hml_expr **out, struct hml_error *err);

/* Frees e. NULL is a no-op. */
void hml_expr_free(struct hml_expr *e);

/* The formula text as given to parse. Borrowed; valid until hml_expr_free(e). */
const char *hml_expr_source(const struct hml_expr *e);

/* The distinct column names (without backticks) and @feature names (without '@') the
 * formula reads, in order of first appearance — for cache keys and leakage checks.
 * *n receives the count. Borrowed arrays; valid until hml_expr_free(e). */
const char *const *hml_expr_columns(const struct hml_expr *e, size_t *n);
const char *const *hml_expr_refs(const struct hml_expr *e, size_t *n);

/* True when the formula calls a column-wise function (zscore, minmax, rank_pct, winsorize,
 * pct_of_total): its value in one row depends on every other row, so a backtest must
 * evaluate it per training fold or accept the leak. */
bool hml_expr_columnwise(const struct hml_expr *e);

/* Resolves names against f (and env for @refs) and type-checks every operator and call.
 * result_type (out, may be NULL): the type hml_expr_eval would produce; a formula that
 * is null everywhere (e.g. "null") reports HML_TYPE_F64.
 * Errors: HML_ENOTFOUND (column or feature), HML_EINVAL (type mismatch, feature row count),
 * HML_ENOMEM. */
enum hml_status hml_expr_check(const struct hml_expr *e, const struct hml_frame *f,
                               const struct hml_expr_env *env, enum hml_type *result_type,
                               struct hml_error *err);

/* Checks, then evaluates e over every row of f. out: on success a column of f->nrows rows
 * (refs = 1; release with hml_column_unref). A formula that is just a column name returns
 * a new reference to that column (columns are immutable). Errors as hml_expr_check. */
enum hml_status hml_expr_eval(const struct hml_expr *e, const struct hml_frame *f,
                              const struct hml_expr_env *env, struct hml_column **out,
                              struct hml_error *err);

/* Evaluates a condition and lists the rows where it is true (null counts as false), in
 * ascending order — ready for hml_frame_take. rows: on success an array of *n indices
 * that the caller frees with hml_free (non-NULL even when *n is 0).
 * Errors as hml_expr_eval, plus HML_EINVAL when the formula is not a bool. */
enum hml_status hml_expr_filter(const struct hml_expr *e, const struct hml_frame *f,
                                const struct hml_expr_env *env, size_t **rows, size_t *n,
                                struct hml_error *err);

#endif
