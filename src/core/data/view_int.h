/* view_int.h — shared by the view_*.c files: the run state of one step list, parameter
 * helpers, grouping and ordering, and column builders. Not part of the public API. */
#ifndef HML_VIEW_INT_H
#define HML_VIEW_INT_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame_int.h"
#include "harness/view.h"

/* A step in a dry pass met columns that only the data decides (see hml_view_check). Never
 * leaves the view module. */
#define HML__VIEW_OPEN ((enum hml_status)64)

#define VIEW_OPEN_MAX 16u

struct vrun {
    const struct hml_view_ctx *ctx;
    bool dry;                                /* schema pass over zero-row frames   */
    char open_prefix[VIEW_OPEN_MAX][96];     /* dry: names the data decides         */
    size_t open_n;
    size_t step_i;                           /* 1-based, for messages               */
    const char *op;
};

typedef enum hml_status (*hml__vstep_fn)(struct vrun *r, const json_t *step, struct hml_frame **f,
                                         struct hml_error *err);

/* ---- parameters (view.c) ------------------------------------------------------------------- */

/* A warning from the current step ("step 3 (join): …"), appended to ctx->warnings. */
void hml__vr_warn(struct vrun *r, const char *fmt, ...) HML_PRINTF(2, 3);
/* Is `name` the target or an outcome column? */
bool hml__vr_outcome(const struct vrun *r, const char *name);
/* Column lookup with did-you-mean; in a dry pass a miss under an open prefix gives
 * HML__VIEW_OPEN. `key` names the step key for the message. */
enum hml_status hml__vr_col(struct vrun *r, const struct hml_frame *f, const char *name,
                            const char *key, size_t *idx, struct hml_error *err);
/* A key holding a column name or a list of them (absent = 0 columns). */
enum hml_status hml__vr_cols(struct vrun *r, const struct hml_frame *f, const json_t *step,
                             const char *key, size_t *idx, size_t *n, struct hml_error *err);
/* The same for names only (no lookup): borrowed strings. */
enum hml_status hml__vr_names(struct vrun *r, const json_t *step, const char *key,
                              const char **names, size_t *n, struct hml_error *err);
/* An enum-valued string key; dflt when absent. */
enum hml_status hml__vr_choice(struct vrun *r, const json_t *step, const char *key,
                               const char *const *choices, int dflt, int *out,
                               struct hml_error *err);
/* An integer key within [lo, hi]; dflt when absent. */
enum hml_status hml__vr_int(struct vrun *r, const json_t *step, const char *key, long long lo,
                            long long hi, long long dflt, long long *out, struct hml_error *err);
/* A bool key, or a list of bools with one per column (n): fills out[0..n). */
enum hml_status hml__vr_bools(struct vrun *r, const json_t *step, const char *key, size_t n,
                              bool dflt, bool *out, struct hml_error *err);
/* The object under key, non-empty, with at most HML_VIEW_AGGS_MAX entries. */
enum hml_status hml__vr_map(struct vrun *r, const json_t *step, const char *key,
                            const json_t **out, struct hml_error *err);
/* The frame named by the step's "other" (through ctx->resolve; zero rows in a dry pass). */
enum hml_status hml__vr_other(struct vrun *r, const json_t *step, struct hml_frame **out,
                              struct hml_error *err);
/* Fails with "step i (op): message" and the hint. Returns code. */
enum hml_status hml__vr_fail(struct vrun *r, struct hml_error *err, enum hml_status code,
                             const char *hint, const char *fmt, ...) HML_PRINTF(5, 6);
/* Splits "src:rest" at the first ':' into src (cap bytes) and *rest (NULL when no ':'). */
bool hml__vr_split(const char *spec, char *src, size_t cap, const char **rest);
/* Checks a new column name: non-empty, at most 256 bytes. */
enum hml_status hml__vr_newname(struct vrun *r, const char *name, struct hml_error *err);
/* Requires a numeric (float, int, bool) column for `what`. */
enum hml_status hml__vr_numeric(struct vrun *r, const struct hml_frame *f, size_t j,
                                const char *what, struct hml_error *err);

/* ---- columns -------------------------------------------------------------------------------- */

/* Adds or replaces column `name` of *f with c, consuming the caller's reference to c
 * (also on failure). */
enum hml_status hml__vr_put(struct hml_frame *f, const char *name, struct hml_column *c,
                            struct hml_error *err);
/* A double per row, NaN for nulls (and for NaN values). NULL on OOM. Caller frees. */
double *hml__vcol_doubles(const struct hml_column *c);
/* A float column from y (taken, freed on failure): NaN (and ±inf) become null. */
struct hml_column *hml__vcol_from_doubles(double *y, size_t n);
/* An int column from y (taken) with nulls where null[i] (null may be NULL; borrowed). */
struct hml_column *hml__vcol_from_i64(int64_t *y, const uint8_t *null, size_t n);
/* out[i] = c[rows[i]] keeping the type; SIZE_MAX = null. Like hml_column_gather, but fast
 * for strings (the dictionary is shared by copying it once). */
struct hml_column *hml__vcol_gather(const struct hml_column *c, const size_t *rows, size_t n);

/* ---- grouping and ordering (view_group.c) ----------------------------------------------- */

#define VG_NULL UINT32_MAX

/* Dense group ids (first appearance order) of the key columns of f. With null_group a null
 * key value is a value like any other; without, rows with a null key get VG_NULL. No keys:
 * every row is group 0 (one group, or none for zero rows). *gid: caller frees. */
enum hml_status hml__vg_factorize(const struct hml_frame *f, const size_t *cols, size_t nc,
                                  bool null_group, uint32_t **gid, size_t *ng,
                                  struct hml_error *err);
/* The same over two frames at once, so equal key values get equal ids in both (numbers
 * compare by value across int and float). Null keys give VG_NULL. */
enum hml_status hml__vg_factorize2(const struct hml_frame *a, const size_t *ca,
                                   const struct hml_frame *b, const size_t *cb, size_t nc,
                                   uint32_t **ga, uint32_t **gb, size_t *ng,
                                   struct hml_error *err);

/* A stable ordering of the rows: grouped by gid (groups in id order; gid NULL = one group)
 * and within each group by the order columns (desc per column; nulls last), ties in row
 * order. perm[0..n) are row indices; starts[0..ng] the group boundaries in perm (caller
 * frees both; starts may be NULL when not wanted). */
enum hml_status hml__vg_order(const struct hml_frame *f, const uint32_t *gid, size_t ng,
                              const size_t *ocols, const bool *desc, size_t no, uint32_t **perm,
                              size_t **starts, struct hml_error *err);

/* An order-preserving 64-bit key per row of c (null rows: 0 and flagged in *nulls, which is
 * NULL when the column has none). Equal values ⇔ equal keys (-0.0 counts as 0). Strings
 * order bytewise. Caller frees both. */
enum hml_status hml__vg_keys(const struct hml_column *c, uint64_t **keys, uint8_t **nulls,
                             struct hml_error *err);

/* The row order of a group-wise step: its "keys" (null keys form a group) and the order
 * key (order_key names the step key, NULL = row order; desc per column may be NULL). */
struct hml__wplan {
    uint32_t *gid;    /* per row, or NULL without keys */
    uint32_t *perm;   /* rows, grouped then ordered      */
    size_t *starts;   /* ng + 1 group boundaries in perm */
    size_t ng;
    bool ordered;     /* by order columns (else row order within groups) */
};
enum hml_status hml__vr_plan(struct vrun *r, const struct hml_frame *f, const json_t *step,
                             const char *order_key, const bool *desc, struct hml__wplan *p,
                             struct hml_error *err);
/* The same from column indices. */
enum hml_status hml__vr_plan_cols(const struct hml_frame *f, const size_t *keys, size_t nk,
                                  const size_t *ord, const bool *desc, size_t no, struct hml__wplan *p,
                                  struct hml_error *err);
void hml__wplan_free(struct hml__wplan *p);

/* ---- window kernels (view_kernel.c) ------------------------------------------------------- */

enum hml__wfn {
    WF_MEAN, WF_SUM, WF_MIN, WF_MAX, WF_STD, WF_VAR, WF_MEDIAN, WF_COUNT, WF_FIRST, WF_LAST,
    WF_RANGE, WF_CV, WF_SLOPE, WF_EMA, WF_SKEW, WF_KURT, WF_PCT_CHANGE, WF__N
};
extern const char *const hml__wfn_names[];

/* y[p] for p in [0, n): fn over the window of x ending at p (w rows; w >= n is expanding),
 * null (NaN) where fewer than minp values are present. x NaN = null. */
enum hml_status hml__win_roll(const double *x, size_t n, size_t w, size_t minp,
                              enum hml__wfn fn, double *y, struct hml_error *err);

/* ---- steps (each in its own file) -------------------------------------------------------- */

#define VSTEP(name) \
    enum hml_status name(struct vrun *r, const json_t *step, struct hml_frame **f, struct hml_error *err)

VSTEP(hml__vs_filter);
VSTEP(hml__vs_select);
VSTEP(hml__vs_derive);
VSTEP(hml__vs_group_by);
VSTEP(hml__vs_join);
VSTEP(hml__vs_union);
VSTEP(hml__vs_unpivot);
VSTEP(hml__vs_cast);
VSTEP(hml__vs_sort);
VSTEP(hml__vs_distinct);
VSTEP(hml__vs_rolling);
VSTEP(hml__vs_head);
VSTEP(hml__vs_rank);
VSTEP(hml__vs_cond_agg);
VSTEP(hml__vs_isin);
VSTEP(hml__vs_lag);
VSTEP(hml__vs_ewm);
VSTEP(hml__vs_diff);
VSTEP(hml__vs_trend);
VSTEP(hml__vs_encode);
VSTEP(hml__vs_bin);
VSTEP(hml__vs_datetime);
VSTEP(hml__vs_null_indicator);

#endif
