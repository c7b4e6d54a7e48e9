/* view.h — declarative views: a source plus a list of steps, computed over frames,
 * arranged in a DAG, and cached by fingerprint.
 *
 * A view is {source, steps: [...], description}. `source` names a registered data source
 * (config sources.<name>) or another view; join and union steps name more of either in
 * `other`. Steps are JSON objects with an "op" and that op's keys. Before anything is
 * computed, a view is checked by a dry schema pass: the same step code runs over zero-row
 * frames, so unknown ops (did you mean?), unknown or missing keys, wrong types, formula
 * errors (with their line:column) and unknown columns (did you mean?, against the schema
 * as each step has transformed it) are refused without computing a row.
 *
 * STEPS (keys marked * are required; "cols" = a column name or a list of them)
 *   filter{expr*}            keep rows where the formula is true (null counts as false)
 *   select{columns*}         a list keeps those columns in that order; an object
 *                            {new_name: source_column} keeps and renames (SQL "AS")
 *   derive{columns*}         {new: formula}; evaluated in the order given, so a later formula
 *                            may use an earlier result; an existing name is replaced
 *   group_by{keys*, aggs*, per_row, order_by}
 *                            aggs {col: fn | [fn, ...]}; outputs are named col_fn. fns: sum mean
 *                            min max count std var median first last nunique. One row per
 *                            distinct key tuple, sorted by the keys (nulls last); null keys form
 *                            their own group (pandas dropna=False — unlike pandas' default, rows
 *                            are never silently dropped). per_row: true keeps every row and adds
 *                            the aggregates to it (pandas transform).
 *   join{other*, on*, how, select, prefix}
 *                            on: shared key names, or {left_col: right_col}. how: left (default)
 *                            | inner | right | outer. select: the other's columns to bring (default
 *                            all but its keys). prefix: prepended to those. Keys compare by value
 *                            (7 == 7.0; strings with strings; dates with dates); null keys never
 *                            match (SQL, unlike pandas). Repeated keys on the right multiply rows
 *                            (pandas); a warning says by how much. Order: left rows in order with
 *                            their matches in the other's order; right joins follow the other's
 *                            order; outer appends the other's unmatched rows. Key columns appear
 *                            once, under the left name (filled from the other for rows only it
 *                            has). A name clash is refused (pass prefix).
 *   union{other*}            appends the other's rows; columns match by name (missing → null,
 *                            numbers widen to float, mixed with text → text)
 *   unpivot{unpivot_columns*, id_columns, names_column, names_map}
 *                            unpivot_columns {new: [src1, src2, ...]} (equal lengths k): k output
 *                            rows per input row, variable-major like pandas melt: all rows for
 *                            position 1, then position 2... id_columns (default: every column not
 *                            unpivoted) are repeated. names_column receives the source column name
 *                            of the first unpivot entry, mapped through names_map {src: label}
 *   cast{columns*}           {col: float|int|bool|string|date}. Values that do not convert
 *                            become null and a warning counts them (pandas errors="coerce");
 *                            float → int truncates toward zero; text → bool accepts true/false,
 *                            1/0, yes/no (any case); text → date needs YYYY-MM-DD
 *   sort{by*, ascending}     stable; ascending is a bool or one per column; nulls last always
 *   distinct{columns, keep}  drops repeated rows (by columns, default all); keep first|last;
 *                            nulls equal each other (pandas); row order kept
 *   rolling{aggs*, window*, keys, order_by, min_periods}
 *                            aggs {new: "src:fn"}; window = rows ending at the current row,
 *                            within its group (keys), in order_by order (row order when absent;
 *                            ties keep row order). fns: mean sum min max std var median count first
 *                            last range cv slope ema skew kurt pct_change. Nulls are skipped; a
 *                            row whose window holds fewer than min_periods (default 1) values is
 *                            null (pandas' default is min_periods = window). std/var/cv use
 *                            ddof=1 and need 2 values, slope 2, skew 3, kurt 4 (bias-corrected,
 *                            like pandas); cv = std/mean (null when mean is 0); range = max - min;
 *                            slope = least-squares slope against row position; ema = mean with
 *                            weights (1-a)^age, a = 2/(window+1), age in rows from the window's
 *                            end (pandas ewm adjust=True); first/last = first/last value present;
 *                            pct_change = (last - first) / first of the values present (null when
 *                            first is 0). Results are float and land on each row's own position.
 *   head{keys, n, order_by, ascending, position}
 *                            the first (position first, default) or last n (default 1) rows of
 *                            each group in order_by order; the rows kept stay in input order
 *   rank{columns*, keys, method, ascending, pct}
 *                            columns {new: src}; pandas groupby rank: method average (default) |
 *                            min | max | first | dense; nulls get no rank; pct divides by the
 *                            group's count of values (dense: by its number of distinct values)
 *   cond_agg{keys*, aggs*, per_row, order_by}
 *                            aggs {new: "col:fn[:condition]"}: fn (as group_by) over the group's
 *                            rows where the formula holds. Every group appears; with no matching
 *                            rows count and sum are 0 and the rest null
 *   isin{column*, values*, negate}
 *                            keeps rows whose value is in values (JSON null in values matches
 *                            nulls); negate keeps the others, nulls included (pandas ~isin)
 *   lag{columns*, keys, order_by}
 *                            columns {new: "src:periods"} (periods default 1; negative = lead):
 *                            the value periods rows earlier in the group, same type; null where
 *                            the group has no such row
 *   ewm{aggs*, span*, keys, order_by, min_periods}
 *                            aggs {new: "src:mean|std|var"}: exponentially weighted, a = 2/(span+1),
 *                            adjust=True, nulls skipped but ageing (pandas ignore_na=False), std
 *                            and var unbiased (pandas bias=False, null with one value)
 *   diff{columns*, keys, order_by, pct}
 *                            columns {new: "src:periods"}: x - x[periods earlier] in the group;
 *                            pct: x / x[periods earlier] - 1 (null when that is 0)
 *   trend{columns*, window*, keys, order_by, min_periods}
 *                            columns {new: src}: rolling least-squares slope (as rolling slope;
 *                            min_periods default 2)
 *   encode{column*, method*, output, target, order_by}
 *                            frequency: share of the non-null rows holding the value; ordinal:
 *                            0-based code in sorted order of the values; onehot: one 0/1 int
 *                            column per value named <output or column_><value> (at most
 *                            HML_VIEW_ONEHOT_MAX; a null row is all 0); target_loo: mean target of
 *                            the value's other rows (a row's own target never counts; null when
 *                            there is no other row); target_temporal: mean target of the value's
 *                            rows strictly earlier by order_by (required). target defaults to the
 *                            project's target column. Null values give null (onehot: zeros).
 *                            Default output: <column>_freq, _ordinal, _target_loo,
 *                            _target_temporal (onehot: the prefix <column>_)
 *   bin{column*, method, n_bins, boundaries, output}
 *                            int bin index. quantile (default): n_bins (default 10) edges at
 *                            quantiles, duplicates dropped (pandas qcut); uniform: equal widths
 *                            over [min, max], right-closed, the minimum in bin 0 (pandas cut);
 *                            custom: boundaries b0 < b1 < ... give bins (b0, b1], (b1, b2] ...
 *                            with b0 itself in bin 0; values outside are null; kmeans: 1-D
 *                            k-means from centres at the uniform bin midpoints, bins split at
 *                            midpoints between sorted centres (scikit-learn KBinsDiscretizer).
 *                            Default output: <column>_bin
 *   datetime{column*, extract, cyclical}
 *                            a date column, or text holding YYYY-MM-DD[ HH:MM[:SS]] (others
 *                            null). extract (default year, month, day, dayofweek): year month day
 *                            dayofweek (Monday 0) hour quarter weekofyear (ISO week) → int columns
 *                            <column>_<part>; cyclical parts (month, dayofweek, hour, day, quarter,
 *                            weekofyear) → <column>_<part>_sin / _cos of 2*pi*value/period
 *                            (periods 12, 7, 24, 31, 4, 53)
 *   null_indicator{columns, prefix}
 *                            0/1 int columns <prefix><col> (prefix default "missing_") for the
 *                            given columns, default every column that has nulls
 *
 * LEAKAGE. A window step that summarises an outcome column (the target and every column in
 * struct hml_view_ctx.outcomes) never lets a row see itself or a later row of its group:
 * rolling, ewm, diff and trend are computed over the series shifted by one row within the
 * group (the window ends at the previous row); group_by and cond_agg with per_row use the
 * group's strictly earlier rows (in order_by order, else row order); lag and diff of an
 * outcome need periods >= 1. encode target_loo and target_temporal are never in-sample. A
 * formula (filter, derive, cond_agg condition) may read outcome columns; derive warns, and
 * so do rank over an outcome and (in a project) a join that brings back a whole-group
 * summary of an outcome made by another view.
 *
 * ERRORS are HML_EINVAL / HML_ENOTFOUND with hints (valid names, did you mean), prefixed
 * with the step: "step 2 (rolling): unknown column 'prce' — did you mean 'price'?".
 *
 * THREAD SAFETY: the functions here never share state except the process-wide computation
 * counter (atomic). A struct hml_views is used by one thread at a time.
 */
#ifndef HML_VIEW_H
#define HML_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "harness/err.h"
#include "harness/expr.h"
#include "harness/frame.h"
#include "harness/json.h"

#define HML_VIEW_STEPS_MAX 256u      /* steps in one view                                */
#define HML_VIEW_KEYS_MAX 16u        /* key / order_by / by columns of one step          */
#define HML_VIEW_AGGS_MAX 256u       /* outputs of one step (aggs, columns maps)         */
#define HML_VIEW_WINDOW_MAX 1000000u /* rows of a rolling/trend window; lag periods; span */
#define HML_VIEW_ONEHOT_MAX 256u     /* distinct values encode onehot expands            */
#define HML_VIEW_BINS_MAX 1000u      /* n_bins and boundaries                            */
#define HML_VIEW_VIEWS_MAX 1000u     /* views in a project                               */
#define HML_VIEW_DEPTH_MAX 64u       /* length of a chain of views                       */
#define HML_VIEW_NAME_MAX 64u        /* characters of a view name                        */

/* The op names, NULL-terminated, in the order of the table above. */
extern const char *const hml_view_ops[];

/* Resolves a name used in `other` (join, union) to a frame. out: a new frame the caller
 * frees. When checking (hml_view_check), it must return the schema: a zero-row frame. */
typedef enum hml_status (*hml_view_resolve_fn)(void *ud, const char *name,
                                               struct hml_frame **out, struct hml_error *err);

struct hml_view_ctx {
    const char *target;             /* default target of encode target_*; NULL = none      */
    const char *const *outcomes;    /* outcome columns (the target is one implicitly)       */
    size_t outcomes_n;
    hml_view_resolve_fn resolve;    /* NULL: join/union are refused as unknown names        */
    void *resolve_ud;
    json_t *warnings;               /* optional JSON array: steps append short sentences    */
    const volatile int *cancel;     /* optional: non-zero stops between steps               */
};

/* Runs the steps over `in` (borrowed, unchanged). out: on success a new frame (columns may
 * be shared with `in`, they are immutable). Errors as described above; HML_ENOMEM. */
enum hml_status hml_view_apply(const struct hml_frame *in, const json_t *steps,
                               const struct hml_view_ctx *ctx, struct hml_frame **out,
                               struct hml_error *err);

/* The dry schema pass: runs the steps over a zero-row copy of `schema` (any frame with the
 * input's columns). out (may be NULL): the output schema as a zero-row frame. Where a step's
 * columns depend on the data (encode onehot, null_indicator without columns), columns after
 * it that the pass cannot know are accepted; a warning says so. */
enum hml_status hml_view_check(const struct hml_frame *schema, const json_t *steps,
                               const struct hml_view_ctx *ctx, struct hml_frame **out,
                               struct hml_error *err);

/* The names a step list reads through `other` (join, union), in order, without repeats.
 * Borrowed from steps; *n receives the count (at most cap are written). */
size_t hml_view_step_refs(const json_t *steps, const char **names, size_t cap);

/* Evaluates a formula like hml_expr_eval, but with the column-wise functions (zscore,
 * minmax, rank_pct, winsorize, pct_of_total) computed within each group of the key columns
 * (a null key is its own group). keys may be empty (then it is hml_expr_eval). */
enum hml_status hml_view_eval_by(const struct hml_expr *e, const struct hml_frame *f,
                                 const char *const *keys, size_t nkeys,
                                 struct hml_column **out, struct hml_error *err);

/* ---- the views of a project: DAG, fingerprints, cache ---------------------------------- */

/* Reads config `views`, `sources` and the outcome columns (data.target_column, data.targets,
 * guardrails.feature_leakage_denylist) from `root`, which must outlive the handle. Cache
 * files live under <project_dir>/.harness/cache/{views,sources}/. */
struct hml_views;
enum hml_status hml_views_open(const char *project_dir, const json_t *root,
                               struct hml_views **out, struct hml_error *err);
void hml_views_free(struct hml_views *v);

/* Checks the graph of every view: the source and each `other` name an existing source or
 * view (did you mean?), no view reaches itself (the cycle is named: "a → b → a"), chains
 * stay within HML_VIEW_DEPTH_MAX. Reads the config only. */
enum hml_status hml_views_check_graph(const json_t *root, struct hml_error *err);

/* The dry schema pass of a view and, as needed, its upstream views (sources are read, or
 * loaded from the source cache; no view is computed). out: a zero-row frame (caller frees);
 * may be NULL to only check. */
enum hml_status hml_views_schema(struct hml_views *v, const char *name, struct hml_frame **out,
                                 struct hml_error *err);

/* The view's rows: loaded from its cache file when its fingerprint is unchanged, else
 * computed (upstream views likewise) and queued for the cache. out: a new frame. */
enum hml_status hml_views_materialise(struct hml_views *v, const char *name,
                                      struct hml_frame **out, struct hml_error *err);

/* Fingerprint (64 hex chars): SHA-256 of the engine version, the view's source and steps
 * (not its description), the outcome columns, and the fingerprints of what it reads
 * (upstream views; sources by their recorded sha256, format, table and null tokens). */
enum hml_status hml_views_fingerprint(struct hml_views *v, const char *name, char out[65],
                                      struct hml_error *err);

/* Writes the queued cache files (atomically; older files of the same views are removed).
 * Actions call it only once they have succeeded, so a failed action leaves no trace. */
enum hml_status hml_views_flush(struct hml_views *v, struct hml_error *err);

/* What this handle did: names of views computed and loaded from cache, in order (borrowed
 * JSON arrays), and warnings from the steps. */
const json_t *hml_views_computed(const struct hml_views *v);
const json_t *hml_views_loaded(const struct hml_views *v);
const json_t *hml_views_warnings(const struct hml_views *v);

/* Views computed (not loaded) by this process so far — for tests. */
uint64_t hml_view_computations(void);

/* The cache file of a view with a given fingerprint: <dir>/.harness/cache/views/<name>-<fp16>.hfr.
 * Caller frees. */
char *hml_views_cache_path(const char *project_dir, const char *name, const char *fp);

#endif
