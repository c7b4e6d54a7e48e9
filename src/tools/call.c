/* call.c — the dispatcher: validate, run the action, render text + structured. */
#include "tools_int.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/alloc.h"
#include "harness/log.h"

/* ---- parameter access ------------------------------------------------------------- */

const char *hml_param_str(const struct hml_call *c, const char *name, const char *dflt)
{
    return hml_json_str(c->params, name, dflt);
}

long long hml_param_int(const struct hml_call *c, const char *name, long long dflt)
{
    return hml_json_int(c->params, name, dflt);
}

double hml_param_num(const struct hml_call *c, const char *name, double dflt)
{
    return hml_json_num(c->params, name, dflt);
}

bool hml_param_bool(const struct hml_call *c, const char *name, bool dflt)
{
    return hml_json_bool(c->params, name, dflt);
}

json_t *hml_param_json(const struct hml_call *c, const char *name)
{
    json_t *v = json_object_get(c->params, name);
    return json_is_null(v) ? NULL : v;
}

bool hml_param_has(const struct hml_call *c, const char *name)
{
    return hml_param_json(c, name) != NULL;
}

void hml_progress(const struct hml_call *c, double done, double total, const char *fmt, ...)
{
    if (!c->progress) return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->progress(c->progress_ud, done, total, msg);
}

bool hml_cancelled(const struct hml_call *c)
{
    return c->cancel && *c->cancel;
}

enum hml_status hml_fail_cancelled(struct hml_error *err, const char *where)
{
    hml_fail(err, HML_EBLOCKED, where, "cancelled by the caller before it finished");
    return hml_hint(err, "nothing was changed; run the action again to finish it");
}

void hml_result_warn(struct hml_result *res, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(res->warnings, json_string(msg));
}

void hml_reply_fini(struct hml_reply *r)
{
    hml_free(r->text);
    json_decref(r->structured);
    memset(r, 0, sizeof *r);
}

/* ---- rendering ----------------------------------------------------------------------- */

static void render_error(const char *action, const struct hml_error *e, struct hml_reply *out)
{
    struct hml_buf t = HML_BUF_INIT;
    hml_buf_printf(&t, "Error (%s): %s", hml_status_name(e->code), e->message);
    if (e->hint[0]) hml_buf_printf(&t, "\nHint: %s", e->hint);
    hml_buf_putc(&t, '\n');
    json_t *je = json_pack("{s:s,s:s,s:s}", "code", hml_status_name(e->code), "message", e->message,
                           "hint", e->hint);
    if (e->where[0]) json_object_set_new(je, "where", json_string(e->where));
    if (e->did_you_mean[0]) json_object_set_new(je, "did_you_mean", json_string(e->did_you_mean));
    if (e->valid[0]) {
        json_t *vv = json_array();
        const char *s = e->valid;
        while (*s) {
            const char *nl = strchr(s, '\n');
            size_t n = nl ? (size_t)(nl - s) : strlen(s);
            json_array_append_new(vv, json_stringn(s, n));
            s += n + (nl != NULL);
        }
        json_object_set_new(je, "valid_values", vv);
    }
    out->is_error = true;
    out->text = hml_buf_detach(&t);
    out->structured = json_pack("{s:b,s:s?,s:o}", "ok", 0, "action", action, "error", je);
}

static void render_ok(const char *action, struct hml_result *res, struct hml_reply *out)
{
    json_t *s = json_pack("{s:b,s:s}", "ok", 1, "action", action);
    json_object_update(s, res->data);
    if (json_array_size(res->warnings)) {
        json_object_set(s, "warnings", res->warnings);
        hml_buf_puts(&res->text, res->text.len ? "\n" : "");
        size_t i;
        json_t *w;
        json_array_foreach(res->warnings, i, w)
            hml_buf_printf(&res->text, "Warning: %s\n", json_string_value(w));
    }
    out->structured = s;
    out->text = hml_buf_detach(&res->text);
}

/* ---- dispatch ------------------------------------------------------------------------- */

static char *resolve_project_dir(const char *given)
{
    char cwd[PATH_MAX];
    const char *dir = given;
    if (!dir || !*dir) dir = getcwd(cwd, sizeof cwd) ? cwd : ".";
    char real[PATH_MAX];
    if (realpath(dir, real)) return hml_strdup(real);
    if (dir[0] == '/' || !getcwd(cwd, sizeof cwd)) return hml_strdup(dir);
    return hml_path_join(cwd, dir);
}

static enum hml_status find_action(const struct hml_tool *t, const json_t *args,
                                   const struct hml_action **out, struct hml_error *err)
{
    char where[64];
    snprintf(where, sizeof where, "%s", t->name);
    const json_t *av = json_object_get(args, "action");
    const char *names[64];
    size_t n = 0;
    for (const struct hml_action *a = t->actions; a->name && n < 64; a++) names[n++] = a->name;
    if (!json_is_string(av)) {
        hml_fail(err, HML_EINVAL, where, "'action' is required for %s", t->name);
        return hml_error_choices(err, "", names, n);
    }
    const char *given = json_string_value(av);
    *out = hml_action_find(t, given);
    if (*out) return HML_OK;
    hml_fail(err, HML_EINVAL, where, "unknown action '%s' for %s", given, t->name);
    return hml_error_choices(err, given, names, n);
}

enum hml_status hml_tool_call(const char *tool, json_t *args, const struct hml_call_opts *opts,
                              struct hml_reply *out, struct hml_error *err)
{
    memset(out, 0, sizeof *out);
    const struct hml_tool *t = hml_tool_find(tool);
    if (!t) {
        const char *names[32];
        size_t n = 0;
        for (size_t i = 0; i < hml_tools_count() && n < 32; i++) names[n++] = hml_tools_at(i)->name;
        hml_fail(err, HML_ENOTFOUND, "tools", "unknown tool '%s'", tool);
        return hml_error_choices(err, tool, names, n);
    }
    struct hml_error verr;
    hml_error_clear(&verr);
    const struct hml_action *a = NULL;
    json_t *params = json_is_object(args) ? json_deep_copy(args) : NULL;
    enum hml_status rc;
    if (!json_is_object(args)) {
        hml_fail(&verr, HML_EINVAL, t->name, "arguments must be a JSON object");
        rc = hml_hint(&verr, "pass {\"action\": \"...\", ...}");
    } else if (!params) {
        rc = hml_fail(&verr, HML_ENOMEM, t->name, "out of memory");
    } else {
        rc = find_action(t, params, &a, &verr);
        if (!rc) rc = hml__validate(t, a, params, &verr);
    }
    if (rc) {
        render_error(a ? a->name : NULL, &verr, out);
        out->usage_error = true;
        json_decref(params);
        return HML_OK;
    }

    const char *dir_param = hml_json_str(params, "project_dir", NULL);
    char *dir = resolve_project_dir(dir_param ? dir_param : opts ? opts->default_project_dir : NULL);
    struct hml_call call = {
        .tool = t, .action = a, .project_dir = dir, .params = params,
        .progress = opts ? opts->progress : NULL, .progress_ud = opts ? opts->progress_ud : NULL,
        .cancel = opts ? opts->cancel : NULL,
    };
    struct hml_result res = {.data = json_object(), .warnings = json_array()};
    struct hml_error aerr;
    hml_error_clear(&aerr);
    if (!dir || !res.data || !res.warnings) rc = hml_fail(&aerr, HML_ENOMEM, t->name, "out of memory");
    else rc = a->fn(&call, &res, &aerr);
    if (rc) {
        if (rc == HML_ENOMEM && !aerr.hint[0])
            hml_hint(&aerr, "the machine ran out of memory; free some or work on a sample (data sample)");
        if (!aerr.hint[0] && rc != HML_EINTERNAL)
            hml_log_warn("%s.%s: error without a hint: %s", t->name, a->name, aerr.message);
        aerr.code = rc;
        render_error(a->name, &aerr, out);
    } else {
        render_ok(a->name, &res, out);
    }
    hml_buf_free(&res.text);
    json_decref(res.data);
    json_decref(res.warnings);
    json_decref(params);
    hml_free(dir);
    return HML_OK;
}
