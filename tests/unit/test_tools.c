/* Unit tests for the tool layer: table consistency, schemas, validation. */
#include "t.h"

#include "harness/alloc.h"
#include "harness/json.h"
#include "harness/tool.h"
#include "tools/tools_int.h"

TEST(tool_tables_are_consistent)
{
    T_OK(hml_tools_count() >= 2);
    for (size_t i = 0; i < hml_tools_count(); i++) {
        const struct hml_tool *t = hml_tools_at(i);
        T_OK(strlen(t->description) <= 1500);
        for (const struct hml_action *a = t->actions; a->name; a++) {
            char w[64];
            for (const char *s = a->params; hml__next_word(&s, w, sizeof w);)
                if (!hml_param_find(t, w)) t_failf(__FILE__, __LINE__, "%s.%s: no parameter '%s'", t->name, a->name, w);
            for (const char *s = a->required; hml__next_word(&s, w, sizeof w);)
                T_OK(hml_action_accepts(a, w));
            T_OK(a->summary && a->summary[0]);
        }
        for (const struct hml_param *p = t->params; p->name; p++) {
            bool used = false;
            for (const struct hml_action *a = t->actions; a->name; a++) used |= hml_action_accepts(a, p->name);
            if (!used) t_failf(__FILE__, __LINE__, "%s: parameter '%s' is used by no action", t->name, p->name);
        }
    }
}

TEST(input_schema_has_action_enum_and_stays_small)
{
    size_t total = 0;
    for (size_t i = 0; i < hml_tools_count(); i++) {
        json_t *s = hml_tool_input_schema(hml_tools_at(i));
        json_t *action = json_object_get(json_object_get(s, "properties"), "action");
        T_OK(json_array_size(json_object_get(action, "enum")) > 0);
        T_STREQ(json_string_value(json_object_get(s, "type")), "object");
        char *text = hml_json_canonical(s);
        total += strlen(text);
        hml_free(text);
        json_decref(s);
    }
    /* An agent pays for tools/list in every session: the whole answer (schemas,
     * descriptions, annotations) must stay under 24 KB; the input schemas are most of it. */
    if (total >= 18000) t_failf(__FILE__, __LINE__, "input schemas take %zu bytes", total);
}

static struct hml_reply call(const char *tool, const char *args_json)
{
    json_t *args;
    struct hml_error err;
    if (hml_json_parse(args_json, strlen(args_json), &args, &err)) t_failf(__FILE__, __LINE__, "bad json");
    struct hml_call_opts opts = {.default_project_dir = t_tmpdir()};
    struct hml_reply r;
    hml_tool_call(tool, args, &opts, &r, &err);
    json_decref(args);
    return r;
}

TEST(validator_coerces_and_rejects)
{
    struct hml_reply r = call("data", "{\"action\": \"sample\", \"fraction\": \"0.5\", \"seed\": 3.0}");
    /* Coercion succeeded: the error is about the missing project, not the types. */
    json_t *e = json_object_get(r.structured, "error");
    T_STREQ(json_string_value(json_object_get(e, "code")), "not_found");
    T_OK(!r.usage_error);
    hml_reply_fini(&r);

    r = call("data", "{\"action\": \"fill_nulls\", \"column\": \"a\", \"strategy\": \"MEDIAN\", \"nope\": 1}");
    e = json_object_get(r.structured, "error");
    T_OK(r.usage_error);
    T_STREQ(json_string_value(json_object_get(e, "code")), "invalid_params");
    T_CONTAINS(json_string_value(json_object_get(e, "message")), "unknown parameter 'nope'");
    hml_reply_fini(&r);

    r = call("data", "{\"action\": \"rename\", \"mapping\": \"{not json\"}");
    e = json_object_get(r.structured, "error");
    T_CONTAINS(json_string_value(json_object_get(e, "message")), "'mapping' holds invalid JSON");
    T_OK(json_string_length(json_object_get(e, "hint")) > 0);
    hml_reply_fini(&r);

    r = call("data", "{\"action\": \"sample\", \"fraction\": null}");
    e = json_object_get(r.structured, "error");
    T_CONTAINS(json_string_value(json_object_get(e, "message")), "'fraction' is required");
    hml_reply_fini(&r);

    struct hml_error err;
    json_t *empty = json_object();
    T_EQ(hml_tool_call("dta", empty, NULL, &r, &err), HML_ENOTFOUND);
    json_decref(empty);
    T_STREQ(err.did_you_mean, "data");
}
