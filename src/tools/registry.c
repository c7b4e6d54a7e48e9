/* registry.c — the table of tools, schemas generated from it, and help text. */
#include "tools_int.h"

#include <pthread.h>
#include <string.h>

#define TOOLS_MAX 32

static const struct hml_tool *registry[TOOLS_MAX];
static size_t registry_n;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

static enum hml_status add_tool(const struct hml_tool *tool, struct hml_error *err)
{
    HML_ASSERT(tool && tool->name && tool->actions);
    pthread_mutex_lock(&registry_lock);
    enum hml_status rc = HML_OK;
    for (size_t i = 0; i < registry_n; i++)
        if (!strcmp(registry[i]->name, tool->name)) {
            hml_fail(err, HML_ECONFLICT, "tools.register", "a tool named '%s' exists already", tool->name);
            rc = hml_hint(err, "choose another name for the plugin's tool");
        }
    if (!rc && registry_n == TOOLS_MAX) {
        hml_fail(err, HML_ELIMIT, "tools.register", "too many tools (%d)", TOOLS_MAX);
        rc = hml_hint(err, "raise TOOLS_MAX in src/tools/registry.c");
    }
    if (!rc) registry[registry_n++] = tool;
    pthread_mutex_unlock(&registry_lock);
    return rc;
}

static void register_builtin(void)
{
    static const struct hml_tool *const builtin[] = {&hml_tool_configure, &hml_tool_data, &hml_tool_features,
                                                     &hml_tool_models, &hml_tool_pipeline, &hml_tool_notebook,
                                                     &hml_tool_experiments};
    for (size_t i = 0; i < sizeof builtin / sizeof *builtin; i++) {
        struct hml_error err;
        HML_ASSERT(add_tool(builtin[i], &err) == HML_OK);
    }
}

enum hml_status hml_tools_register(const struct hml_tool *tool, struct hml_error *err)
{
    pthread_once(&builtin_once, register_builtin);
    return add_tool(tool, err);
}

size_t hml_tools_count(void)
{
    pthread_once(&builtin_once, register_builtin);
    return registry_n;
}

enum hml_status hml_tools_replace(const struct hml_tool *tool, const struct hml_tool **replaced,
                                  struct hml_error *err)
{
    pthread_once(&builtin_once, register_builtin);
    HML_ASSERT(tool && tool->name && tool->actions);
    *replaced = NULL;
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < registry_n; i++)
        if (!strcmp(registry[i]->name, tool->name)) {
            *replaced = registry[i];
            registry[i] = tool;
        }
    pthread_mutex_unlock(&registry_lock);
    return *replaced ? HML_OK : add_tool(tool, err);
}

bool hml_tools_remove(const char *name)
{
    pthread_once(&builtin_once, register_builtin);
    bool found = false;
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < registry_n && !found; i++)
        if (!strcmp(registry[i]->name, name)) {
            memmove(&registry[i], &registry[i + 1], (registry_n - i - 1) * sizeof *registry);
            registry_n--;
            found = true;
        }
    pthread_mutex_unlock(&registry_lock);
    return found;
}

const struct hml_tool *hml_tools_at(size_t i)
{
    return i < hml_tools_count() ? registry[i] : NULL;
}

const struct hml_tool *hml_tool_find(const char *name)
{
    for (size_t i = 0, n = hml_tools_count(); i < n; i++)
        if (!strcmp(registry[i]->name, name)) return registry[i];
    return NULL;
}

const struct hml_action *hml_action_find(const struct hml_tool *t, const char *name)
{
    for (const struct hml_action *a = t->actions; a->name; a++)
        if (!strcmp(a->name, name)) return a;
    return NULL;
}

const struct hml_param *hml_param_find(const struct hml_tool *t, const char *name)
{
    for (const struct hml_param *p = t->params; p && p->name; p++)
        if (!strcmp(p->name, name)) return p;
    return NULL;
}

bool hml__next_word(const char **s, char *out, size_t cap)
{
    const char *p = *s;
    if (!p) return false;
    while (*p == ' ') p++;
    const char *e = p;
    while (*e && *e != ' ') e++;
    if (e == p) return false;
    size_t n = (size_t)(e - p) < cap - 1 ? (size_t)(e - p) : cap - 1;
    memcpy(out, p, n);
    out[n] = 0;
    *s = e;
    return true;
}

/* Is `word` one of the space-separated words of `list`? */
static bool in_list(const char *list, const char *word)
{
    char w[64];
    for (const char *s = list; hml__next_word(&s, w, sizeof w);)
        if (!strcmp(w, word)) return true;
    return false;
}

bool hml_action_accepts(const struct hml_action *a, const char *name)
{
    return !strcmp(name, "action") || !strcmp(name, "project_dir") || in_list(a->params, name);
}

/* ---- schemas ---------------------------------------------------------------------- */

static json_t *param_schema(const struct hml_param *p)
{
    json_t *s = json_object();
    switch (p->type) {
    case HML_P_STRING:
        json_object_set_new(s, "type", json_string("string"));
        if (p->choices) {
            json_t *e = json_array();
            char buf[512];
            snprintf(buf, sizeof buf, "%s", p->choices);
            for (char *tok = buf, *end; tok && *tok; tok = end) {
                end = strchr(tok, '|');
                if (end) *end++ = 0;
                json_array_append_new(e, json_string(tok));
            }
            json_object_set_new(s, "enum", e);
        }
        break;
    case HML_P_INTEGER: json_object_set_new(s, "type", json_string("integer")); break;
    case HML_P_NUMBER: json_object_set_new(s, "type", json_string("number")); break;
    case HML_P_BOOLEAN: json_object_set_new(s, "type", json_string("boolean")); break;
    case HML_P_STRINGS:
        json_object_set_new(s, "type", json_string("array"));
        json_object_set_new(s, "items", json_pack("{s:s}", "type", "string"));
        break;
    case HML_P_OBJECT:
        json_object_set_new(s, "type", json_pack("[s,s]", "object", "string"));
        break;
    case HML_P_ARRAY:
        json_object_set_new(s, "type", json_pack("[s,s]", "array", "string"));
        break;
    case HML_P_JSON:
        json_object_set_new(s, "type", json_pack("[s,s,s]", "object", "array", "string"));
        break;
    case HML_P_ANY: break;
    }
    json_object_set_new(s, "description", json_string(p->desc));
    return s;
}

json_t *hml_tool_input_schema(const struct hml_tool *t)
{
    json_t *props = json_object(), *actions = json_array();
    for (const struct hml_action *a = t->actions; a->name; a++)
        json_array_append_new(actions, json_string(a->name));
    json_object_set_new(props, "action",
                        json_pack("{s:s,s:o,s:s}", "type", "string", "enum", actions, "description",
                                  "what to do; see the tool description"));
    json_object_set_new(props, "project_dir",
                        json_pack("{s:s,s:s}", "type", "string", "description",
                                  "project directory (default: the current one)"));
    for (const struct hml_param *p = t->params; p && p->name; p++)
        json_object_set_new(props, p->name, param_schema(p));
    return json_pack("{s:s,s:o,s:[s],s:b}", "type", "object", "properties", props, "required",
                     "action", "additionalProperties", 0);
}

json_t *hml_tool_output_schema(const struct hml_tool *t)
{
    (void)t;
    /* Every result is {"ok": …, "action": …, payload}; errors add "error". Kept small:
     * it is repeated in tools/list for every tool. */
    return json_pack("{s:s,s:{s:{s:s}},s:[s]}", "type", "object", "properties", "ok", "type", "boolean", "required", "ok");
}

/* ---- help -------------------------------------------------------------------------- */

static const char *ptype_name(enum hml_ptype t)
{
    static const char *const names[] = {"string", "integer", "number", "boolean", "list",
                                        "object", "array", "json", "any"};
    return names[t];
}

void hml_tools_help(struct hml_buf *out)
{
    hml_buf_puts(out, "usage: harness [--project DIR] [--format md|json] <tool> <action> "
                      "[--<param> <value>]... [--json '<object>']\n"
                      "       harness <tool> --help | harness <tool> <action> --help\n"
                      "       harness mcp | harness studio | harness demo\n\ntools:\n");
    for (size_t i = 0, n = hml_tools_count(); i < n; i++) {
        const struct hml_tool *t = hml_tools_at(i);
        hml_buf_printf(out, "  %-12s %s\n", t->name, t->title);
        hml_buf_puts(out, "               actions:");
        size_t col = 24;
        for (const struct hml_action *a = t->actions; a->name; a++) {
            size_t w = strlen(a->name) + 1;
            if (col + w > 96) {
                hml_buf_puts(out, "\n                       ");
                col = 24;
            }
            hml_buf_printf(out, " %s", a->name);
            col += w;
        }
        hml_buf_putc(out, '\n');
    }
}

static void param_help(const struct hml_tool *t, const char *name, bool required,
                       struct hml_buf *out)
{
    const struct hml_param *p = hml_param_find(t, name);
    HML_ASSERT(p != NULL);
    hml_buf_printf(out, "    --%-20s %s%s", p->name, ptype_name(p->type), required ? ", required" : "");
    if (p->choices) hml_buf_printf(out, " (%s)", p->choices);
    hml_buf_printf(out, "\n        %s\n", p->desc);
}

void hml_tool_help(const struct hml_tool *t, const struct hml_action *only, struct hml_buf *out)
{
    if (!only) hml_buf_printf(out, "%s — %s\n\n", t->name, t->title);
    for (const struct hml_action *a = t->actions; a->name; a++) {
        if (only && a != only) continue;
        hml_buf_printf(out, "harness %s %s — %s\n", t->name, a->name, a->summary);
        char word[64];
        for (const char *s = a->params; hml__next_word(&s, word, sizeof word);)
            param_help(t, word, in_list(a->required, word), out);
        hml_buf_putc(out, '\n');
    }
}
