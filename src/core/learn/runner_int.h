/* runner_int.h — shared by runner.c (orchestration) and runner_fit.c (one fold of
 * one model) and runner_cache.c (the prediction cache). */
#ifndef HML_RUNNER_INT_H
#define HML_RUNNER_INT_H

#include <pthread.h>

#include "harness/feature.h"
#include "harness/runner.h"
#include "harness/model.h"
#include "harness/buf.h"

/* What every fold of a run shares. */
struct run_ctx {
    const struct hml_run_opts *o;
    struct hml_run *r;
    const struct hml_frame *ft;   /* the rows with a target (the folds index these)  */
    const struct hml_frame *test_frame; /* predict: test rows index this frame, not ft;
                                           the cache is not used                      */
    const json_t *root;           /* config                                         */
    uint64_t seed;
    size_t done, total;           /* progress over (model, fold) pairs               */
    struct pending *pending;      /* cache entries to write when the run succeeds    */
    size_t pending_n, pending_cap;
    struct hml_explanation *explain; /* hml_explain: filled by the first seed's fit    */
    struct hml_target *target;    /* encoded once for the input guard (setup_models)  */
    pthread_mutex_t mu;           /* guards the fields above and every model's counters,
                                     notes and failure while folds fit in parallel      */
};

/* One model's resolved definition. */
struct model_ctx {
    bool failed;                  /* a fold failed in the backend: skip the rest       */
    struct hml_run_model *out;
    const json_t *def;
    const struct hml_model_vt *vt;
    enum hml_model_mode mode;
    char **features;
    size_t nfeatures;
    int n_seeds;
    double *class_w;              /* per class, or NULL; "balanced" is per fold     */
    bool balanced;
    uint64_t data_fp;             /* content of the feature and target columns      */
};

/* Fits one fold (or takes it from the cache) and writes test_n × k predictions. */
enum hml_status hml__run_fold(struct run_ctx *c, struct model_ctx *m, const struct hml_cv_fold *f, double *pred,
                              struct hml_error *err);

/* The cache. */
void hml__cache_key(const struct run_ctx *c, const struct model_ctx *m, const struct hml_cv_fold *f, char out[65]);
bool hml__cache_get(const struct run_ctx *c, const char key[65], double *pred, size_t n);
enum hml_status hml__cache_defer(struct run_ctx *c, const char key[65], const double *pred, size_t n,
                                 struct hml_error *err);
void hml__cache_flush(struct run_ctx *c);
void hml__cache_drop(struct run_ctx *c);

#endif
