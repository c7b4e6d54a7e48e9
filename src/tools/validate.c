/* validate.c — checks and coerces an action's arguments against the tables.
 *
 * Strict about names (an unknown parameter is an error that lists the valid ones),
 * lenient about spelling of values a shell or an agent plausibly meant: "5" for an
 * integer, "a,b" for a list, a JSON string for an object, any case for an enum. */
#include "tools_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAMES_MAX 64


static enum hml_status type_error(const char *where, const struct hml_param *p, const json_t *v,
                                  const char *want, struct hml_error *err)
{
    if (json_is_string(v))
        hml_fail(err, HML_EINVAL, where, "'%s' must be %s, got \"%.60s\"", p->name, want,
                 json_string_value(v));
    else
        hml_fail(err, HML_EINVAL, where, "'%s' must be %s, got %s", p->name, want, hml_json_kind(v));
    return hml_hint(err, "%s: %s", p->name, p->desc);
}

/* Parses a string holding JSON for object/array parameters. */
static enum hml_status parse_json_string(const char *where, const struct hml_param *p,
                                         const char *s, json_t **out, struct hml_error *err)
{
    enum hml_status rc = hml_json_parse(s, strlen(s), out, err);
    if (rc) {
        char msg[sizeof err->message];
        memcpy(msg, err->message, sizeof msg);
        hml_fail(err, HML_EINVAL, where, "'%s' holds invalid JSON: %s", p->name, msg);
        return hml_hint(err, "pass %s as a JSON value, e.g. %s", p->name,
                        p->type == HML_P_OBJECT ? "{\"key\": \"value\"}" : "[\"a\", \"b\"]");
    }
    return HML_OK;
}

static enum hml_status coerce_choice(const char *where, const struct hml_param *p, json_t **v,
                                     struct hml_error *err)
{
    const char *given = json_string_value(*v);
    const char *names[NAMES_MAX];
    char buf[1024];
    size_t n = 0;
    snprintf(buf, sizeof buf, "%s", p->choices);
    for (char *tok = buf, *end; tok && *tok && n < NAMES_MAX; tok = end) {
        end = strchr(tok, '|');
        if (end) *end++ = 0;
        names[n++] = tok;
    }
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(names[i], given)) {
            json_t *canon = json_string(names[i]);
            if (!canon) return hml_fail(err, HML_ENOMEM, where, "out of memory");
            json_decref(*v);
            *v = canon;
            return HML_OK;
        }
    hml_fail(err, HML_EINVAL, where, "'%s' is not a valid %s", given, p->name);
    return hml_error_choices(err, given, names, n);
}

static bool parse_bool_text(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "y", "on"};
    static const char *const no[] = {"false", "0", "no", "n", "off"};
    for (size_t i = 0; i < 5; i++) {
        if (!strcasecmp(s, yes[i])) { *out = true; return true; }
        if (!strcasecmp(s, no[i])) { *out = false; return true; }
    }
    return false;
}

static json_t *split_list(const char *s)
{
    json_t *arr = json_array();
    if (!arr) return NULL;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        const char *a = s, *b = s + n;
        while (a < b && isspace((unsigned char)*a)) a++;
        while (b > a && isspace((unsigned char)b[-1])) b--;
        if (b > a && json_array_append_new(arr, json_stringn(a, (size_t)(b - a)))) {
            json_decref(arr);
            return NULL;
        }
        s += n + (e != NULL);
    }
    return arr;
}

/* Replaces *v by its coerced form or fails. */
static enum hml_status coerce(const char *where, const struct hml_param *p, json_t **v,
                              struct hml_error *err)
{
    json_t *x = *v, *nv = NULL;
    const char *s = json_is_string(x) ? json_string_value(x) : NULL;
    switch (p->type) {
    case HML_P_STRING:
        if (json_is_integer(x) || json_is_real(x)) {
            char num[64];
            if (json_is_integer(x)) snprintf(num, sizeof num, "%lld", (long long)json_integer_value(x));
            else snprintf(num, sizeof num, "%.17g", json_real_value(x));
            nv = json_string(num);
            break;
        }
        if (!s) return type_error(where, p, x, "a string", err);
        return p->choices ? coerce_choice(where, p, v, err) : HML_OK;
    case HML_P_INTEGER:
        if (json_is_integer(x)) return HML_OK;
        if (json_is_real(x) && json_real_value(x) == floor(json_real_value(x)) &&
            fabs(json_real_value(x)) < 9e15) {
            nv = json_integer((json_int_t)json_real_value(x));
            break;
        }
        if (s) {
            char *end;
            errno = 0;
            long long i = strtoll(s, &end, 10);
            if (end != s && !*end && !errno) { nv = json_integer(i); break; }
        }
        return type_error(where, p, x, "an integer", err);
    case HML_P_NUMBER:
        if (json_is_number(x)) return HML_OK;
        if (s) {
            char *end;
            double d = strtod(s, &end);
            if (end != s && !*end && isfinite(d)) { nv = json_real(d); break; }
        }
        return type_error(where, p, x, "a number", err);
    case HML_P_BOOLEAN: {
        bool b;
        if (json_is_boolean(x)) return HML_OK;
        if (json_is_integer(x) && (json_integer_value(x) == 0 || json_integer_value(x) == 1)) {
            nv = json_boolean(json_integer_value(x));
            break;
        }
        if (s && parse_bool_text(s, &b)) { nv = json_boolean(b); break; }
        return type_error(where, p, x, "true or false", err);
    }
    case HML_P_STRINGS:
        if (s && s[0] == '[') {
            enum hml_status rc = parse_json_string(where, p, s, &nv, err);
            if (rc) return rc;
        } else if (s) {
            nv = split_list(s);
        } else if (json_is_array(x)) {
            nv = json_incref(x);
        } else {
            return type_error(where, p, x, "a list of names", err);
        }
        if (!nv) return hml_fail(err, HML_ENOMEM, where, "out of memory");
        size_t i;
        json_t *el;
        json_array_foreach(nv, i, el) {
            if (!json_is_string(el)) {
                json_decref(nv);
                hml_fail(err, HML_EINVAL, where, "'%s' must be a list of strings; item %zu is %s",
                         p->name, i + 1, hml_json_kind(el));
                return hml_hint(err, "%s: %s", p->name, p->desc);
            }
        }
        break;
    case HML_P_OBJECT:
    case HML_P_ARRAY:
    case HML_P_JSON:
        if (s && p->type == HML_P_ARRAY && s[0] != '[' && s[0] != '{') {
            nv = split_list(s); /* "a,b" from a shell */
        } else if (s) {
            enum hml_status rc = parse_json_string(where, p, s, &nv, err);
            if (rc) return rc;
        } else {
            nv = json_incref(x);
        }
        if ((p->type == HML_P_OBJECT && !json_is_object(nv)) ||
            (p->type == HML_P_ARRAY && !json_is_array(nv)) ||
            (p->type == HML_P_JSON && !json_is_object(nv) && !json_is_array(nv))) {
            const char *want = p->type == HML_P_OBJECT ? "an object"
                               : p->type == HML_P_ARRAY ? "a list" : "an object or a list";
            enum hml_status rc = type_error(where, p, nv, want, err);
            json_decref(nv);
            return rc;
        }
        break;
    case HML_P_ANY: return HML_OK;
    }
    if (!nv) return hml_fail(err, HML_ENOMEM, where, "out of memory");
    json_decref(*v);
    *v = nv;
    return HML_OK;
}

static size_t action_param_names(const struct hml_action *a, const char **names, char store[][64])
{
    size_t n = 0;
    for (const char *s = a->params; n < NAMES_MAX - 1 && hml__next_word(&s, store[n], 64); n++)
        names[n] = store[n];
    names[n] = "project_dir";
    return n + 1;
}

enum hml_status hml__validate(const struct hml_tool *t, const struct hml_action *a, json_t *args,
                              struct hml_error *err)
{
    char where[96];
    snprintf(where, sizeof where, "%s.%s", t->name, a->name);
    const char *key;
    json_t *v, *tmp;
    json_object_foreach_safe(args, tmp, key, v) {
        if (!strcmp(key, "action")) continue;
        if (json_is_null(v)) {
            json_object_del(args, key); /* null means "not given" */
            continue;
        }
        if (!strcmp(key, "project_dir")) {
            if (!json_is_string(v)) {
                hml_fail(err, HML_EINVAL, where, "'project_dir' must be a string, got %s", hml_json_kind(v));
                return hml_hint(err, "pass the project directory as a path string");
            }
            continue;
        }
        if (!hml_action_accepts(a, key)) {
            const char *names[NAMES_MAX];
            char store[NAMES_MAX][64];
            size_t n = action_param_names(a, names, store);
            hml_fail(err, HML_EINVAL, where, "unknown parameter '%s' for %s", key, where);
            return hml_error_choices(err, key, names, n);
        }
        const struct hml_param *p = hml_param_find(t, key);
        HML_ASSERT(p != NULL); /* tables are checked by a unit test */
        json_t *cv = json_incref(v);
        enum hml_status rc = coerce(where, p, &cv, err);
        if (!rc && json_object_set(args, key, cv)) rc = hml_fail(err, HML_ENOMEM, where, "out of memory");
        json_decref(cv);
        if (rc) return rc;
    }
    char word[64];
    for (const char *s = a->required; hml__next_word(&s, word, sizeof word);) {
        if (json_object_get(args, word)) continue;
        const struct hml_param *p = hml_param_find(t, word);
        HML_ASSERT(p != NULL);
        hml_fail(err, HML_EINVAL, where, "'%s' is required for %s", word, where);
        return hml_hint(err, "pass %s: %s", word, p->desc);
    }
    return HML_OK;
}
