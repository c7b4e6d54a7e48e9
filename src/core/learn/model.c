/* model.c — the model registry and parameter checking shared by all backends. */
#include "harness/model.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MODELS_MAX 32

static const struct hml_model_vt *models[MODELS_MAX];
static size_t models_n;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Built-in backends, each defined in its own model_*.c. Weak so the registry
 * links while a backend is still being written; plain extern once it exists, so the
 * static archive pulls its object in. */
extern const struct hml_model_vt hml_model_xgboost;
extern const struct hml_model_vt hml_model_random_forest;
extern const struct hml_model_vt hml_model_lightgbm;
extern const struct hml_model_vt hml_model_logistic_regression;
extern const struct hml_model_vt hml_model_elastic_net;
extern const struct hml_model_vt hml_model_mlp;

static enum hml_status add(const struct hml_model_vt *vt, struct hml_error *err)
{
    if (vt->version != HML_MODEL_API_VERSION) {
        hml_fail(err, HML_ECONFLICT, "models.register", "backend '%s' has API version %d, the engine %d", vt->name,
                 vt->version, HML_MODEL_API_VERSION);
        return hml_hint(err, "rebuild the backend against this version of harness");
    }
    pthread_mutex_lock(&lock);
    enum hml_status rc = HML_OK;
    for (size_t i = 0; i < models_n && !rc; i++)
        if (!strcmp(models[i]->name, vt->name)) {
            hml_fail(err, HML_ECONFLICT, "models.register", "a model type '%s' exists already", vt->name);
            rc = hml_hint(err, "register the backend under another name");
        }
    if (!rc && models_n == MODELS_MAX) {
        hml_fail(err, HML_ELIMIT, "models.register", "too many model types (%d)", MODELS_MAX);
        rc = hml_hint(err, "raise MODELS_MAX in src/core/learn/model.c");
    }
    if (!rc) models[models_n++] = vt;
    pthread_mutex_unlock(&lock);
    return rc;
}

static void builtin(void)
{
    const struct hml_model_vt *const list[] = {&hml_model_xgboost, &hml_model_random_forest, &hml_model_lightgbm,
                                               &hml_model_logistic_regression, &hml_model_elastic_net, &hml_model_mlp};
    for (size_t i = 0; i < sizeof list / sizeof *list; i++) {
        struct hml_error err;
        if (list[i]) HML_ASSERT(add(list[i], &err) == HML_OK);
    }
}

enum hml_status hml_model_register(const struct hml_model_vt *vt, struct hml_error *err)
{
    pthread_once(&once, builtin);
    return add(vt, err);
}

size_t hml_model_count(void)
{
    pthread_once(&once, builtin);
    return models_n;
}

const struct hml_model_vt *hml_model_at(size_t i)
{
    return i < hml_model_count() ? models[i] : NULL;
}

const struct hml_model_vt *hml_model_find(const char *name)
{
    for (size_t i = 0, n = hml_model_count(); i < n; i++)
        if (!strcmp(models[i]->name, name)) return models[i];
    return NULL;
}

static const struct hml_model_param *param_find(const struct hml_model_vt *vt, const char *name)
{
    for (const struct hml_model_param *p = vt->params; p && p->name; p++)
        if (!strcmp(p->name, name)) return p;
    return NULL;
}

static enum hml_status check_value(const struct hml_model_vt *vt, const struct hml_model_param *p, const json_t *v,
                                   struct hml_error *err)
{
    const char *where = "models.params";
    switch (p->type) {
    case HML_MP_INT:
        if (!json_is_integer(v) && !(json_is_real(v) && json_real_value(v) == floor(json_real_value(v)))) {
            hml_fail(err, HML_EINVAL, where, "%s param '%s' must be an integer", vt->name, p->name);
            return hml_hint(err, "%s: %s (default %s)", p->name, p->desc, p->dflt ? p->dflt : "none");
        }
        break;
    case HML_MP_NUM:
        if (!json_is_number(v)) {
            hml_fail(err, HML_EINVAL, where, "%s param '%s' must be a number", vt->name, p->name);
            return hml_hint(err, "%s: %s (default %s)", p->name, p->desc, p->dflt ? p->dflt : "none");
        }
        break;
    case HML_MP_BOOL:
        if (!json_is_boolean(v)) {
            hml_fail(err, HML_EINVAL, where, "%s param '%s' must be true or false", vt->name, p->name);
            return hml_hint(err, "%s: %s", p->name, p->desc);
        }
        return HML_OK;
    case HML_MP_STR:
        if (!json_is_string(v)) {
            hml_fail(err, HML_EINVAL, where, "%s param '%s' must be a string", vt->name, p->name);
            return hml_hint(err, "%s: %s%s%s", p->name, p->desc, p->choices ? "; one of " : "",
                            p->choices ? p->choices : "");
        }
        if (p->choices) {
            const char *names[32];
            char buf[512];
            size_t n = 0;
            snprintf(buf, sizeof buf, "%s", p->choices);
            for (char *tok = buf, *end; tok && *tok && n < 32; tok = end) {
                end = strchr(tok, '|');
                if (end) *end++ = 0;
                names[n++] = tok;
            }
            for (size_t i = 0; i < n; i++)
                if (!strcmp(names[i], json_string_value(v))) return HML_OK;
            hml_fail(err, HML_EINVAL, where, "'%s' is not a valid %s for %s", json_string_value(v), p->name, vt->name);
            return hml_error_choices(err, json_string_value(v), names, n);
        }
        return HML_OK;
    }
    double x = json_number_value(v);
    if (p->lo <= p->hi && (x < p->lo || x > p->hi)) {
        hml_fail(err, HML_EINVAL, where, "%s param '%s' = %g is out of range [%g, %g]", vt->name, p->name, x, p->lo, p->hi);
        return hml_hint(err, "%s: %s (default %s)", p->name, p->desc, p->dflt ? p->dflt : "none");
    }
    return HML_OK;
}

enum hml_status hml_model_params_check(const struct hml_model_vt *vt, const json_t *params, struct hml_error *err)
{
    if (!params || json_is_null(params)) return HML_OK;
    if (!json_is_object(params)) {
        hml_fail(err, HML_EINVAL, "models.params", "params must be an object");
        return hml_hint(err, "pass params as {\"name\": value, …}");
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v) {
        const struct hml_model_param *p = param_find(vt, key);
        if (!p) {
            const char *names[128];
            size_t n = 0;
            for (const struct hml_model_param *q = vt->params; q && q->name && n < 128; q++) names[n++] = q->name;
            hml_fail(err, HML_EINVAL, "models.params", "unknown param '%s' for model type %s", key, vt->name);
            return hml_error_choices(err, key, names, n);
        }
        enum hml_status rc = check_value(vt, p, v, err);
        if (rc) return rc;
    }
    return HML_OK;
}

double hml_model_param_num(const struct hml_model_vt *vt, const json_t *params, const char *name)
{
    const json_t *v = json_object_get(params, name);
    if (json_is_number(v)) return json_number_value(v);
    if (json_is_boolean(v)) return json_is_true(v);
    const struct hml_model_param *p = param_find(vt, name);
    HML_ASSERT(p != NULL);
    if (p->type == HML_MP_BOOL) return p->dflt && !strcmp(p->dflt, "true");
    return p->dflt ? strtod(p->dflt, NULL) : NAN;
}

const char *hml_model_param_str(const struct hml_model_vt *vt, const json_t *params, const char *name)
{
    const json_t *v = json_object_get(params, name);
    if (json_is_string(v)) return json_string_value(v);
    const struct hml_model_param *p = param_find(vt, name);
    HML_ASSERT(p != NULL);
    return p->dflt;
}
