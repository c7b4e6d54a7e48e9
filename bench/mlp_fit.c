/* mlp_fit.c — the harness side of bench/mlp_bench.sh: fits the mlp backend on a dataset
 * written by bench/mlp_peer.py gen, times the fit, and prints "seconds accuracy".
 *
 *   mlp_fit DIR NAME PARAMS_JSON SEED
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness/alloc.h"
#include "harness/json.h"
#include "harness/model.h"

static void *slurp(const char *dir, const char *name, const char *suffix, size_t bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s_%s", dir, name, suffix);
    FILE *f = fopen(path, "rb");
    void *p = malloc(bytes + 1);
    if (!f || !p || fread(p, 1, bytes, f) != bytes) {
        fprintf(stderr, "mlp_fit: cannot read %zu bytes from %s\n", bytes, path);
        exit(1);
    }
    fclose(f);
    return p;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: mlp_fit DIR NAME PARAMS_JSON SEED\n");
        return 2;
    }
    const char *dir = argv[1], *name = argv[2];
    char path[1024];
    size_t ntr, nte, cols;
    snprintf(path, sizeof path, "%s/%s_meta.txt", dir, name);
    FILE *f = fopen(path, "r");
    if (!f || fscanf(f, "%zu %zu %zu", &ntr, &nte, &cols) != 3) {
        fprintf(stderr, "mlp_fit: cannot read %s\n", path);
        return 1;
    }
    fclose(f);
    float *xtr = slurp(dir, name, "xtr.f32", ntr * cols * sizeof *xtr);
    float *xte = slurp(dir, name, "xte.f32", nte * cols * sizeof *xte);
    double *ytr = slurp(dir, name, "ytr.f64", ntr * sizeof *ytr);
    double *yte = slurp(dir, name, "yte.f64", nte * sizeof *yte);

    hml_json_init();
    struct hml_error err;
    json_t *params = NULL;
    struct hml_model *m = NULL;
    const struct hml_model_vt *vt = hml_model_find("mlp");
    if (!vt || hml_json_parse(argv[3], strlen(argv[3]), &params, &err) ||
        vt->create(params, HML_MODE_CLASSIFIER, &m, &err)) {
        fprintf(stderr, "mlp_fit: %s (%s)\n", vt ? err.message : "no mlp backend", vt ? err.hint : "");
        return 1;
    }
    struct hml_fit_data fd = {.x = xtr, .rows = ntr, .cols = cols, .y = ytr, .n_classes = 2};
    struct hml_fit_ctl ctl = {.nthread = 1, .seed = strtoull(argv[4], NULL, 10)};
    double t0 = now();
    if (vt->fit(m, &fd, &ctl, &err)) {
        fprintf(stderr, "mlp_fit: %s (%s)\n", err.message, err.hint);
        return 1;
    }
    double secs = now() - t0;
    double *p = malloc(nte * sizeof *p + 1);
    if (!p || vt->predict(m, xte, nte, cols, p, &err)) {
        fprintf(stderr, "mlp_fit: predict failed\n");
        return 1;
    }
    size_t right = 0;
    for (size_t i = 0; i < nte; i++) right += (p[i] > 0.5) == (yte[i] > 0.5);
    printf("%.4f %.4f\n", secs, (double)right / (double)nte);
    vt->free(m);
    json_decref(params);
    free(p);
    free(xtr);
    free(xte);
    free(ytr);
    free(yte);
    return 0;
}
