/* Unit tests for the tool-layer hooks the MCP server uses: registry replace/remove (hot
 * reload) and progress + cancellation reaching an action through struct hml_call. */
#include "t.h"

#include "harness/alloc.h"
#include "harness/fsx.h"
#include "harness/json.h"
#include "harness/tool.h"

static enum hml_status a_ping(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    (void)call;
    (void)err;
    hml_buf_puts(&res->text, "pong v2\n");
    return HML_OK;
}

static const struct hml_param no_params[] = {{0}};
static const struct hml_action data_v2_actions[] = {{"ping", a_ping, "", NULL, "answers pong", HML_ACT_READONLY}, {0}};
static const struct hml_tool data_v2 = {.name = "data", .title = "v2", .description = "a replacement",
                                        .params = no_params, .actions = data_v2_actions};
static const struct hml_tool extra = {.name = "extra", .title = "x", .description = "an added tool",
                                      .params = no_params, .actions = data_v2_actions};

TEST(tools_replace_swaps_in_place_and_remove_unregisters)
{
    size_t n = hml_tools_count();
    const struct hml_tool *builtin = hml_tool_find("data");
    T_OK(builtin != NULL);
    size_t pos = 0;
    while (hml_tools_at(pos) != builtin) pos++;

    struct hml_error err;
    const struct hml_tool *old = NULL;
    T_RC(hml_tools_replace(&data_v2, &old, &err), &err);
    T_OK(old == builtin);
    T_EQ(hml_tools_count(), n);
    T_OK(hml_tools_at(pos) == &data_v2); /* same place: tools/list keeps its order */

    struct hml_reply r;
    json_t *args = json_pack("{s:s}", "action", "ping");
    T_RC(hml_tool_call("data", args, NULL, &r, &err), &err);
    T_STREQ(r.text, "pong v2\n");
    hml_reply_fini(&r);

    T_RC(hml_tools_replace(&extra, &old, &err), &err);
    T_OK(old == NULL);
    T_EQ(hml_tools_count(), n + 1);
    T_OK(hml_tools_remove("extra"));
    T_OK(!hml_tools_remove("extra"));
    T_EQ(hml_tools_count(), n);

    T_RC(hml_tools_replace(builtin, &old, &err), &err);
    T_OK(old == &data_v2);
    hml_reply_fini(&r);
    T_RC(hml_tool_call("data", args, NULL, &r, &err), &err);
    T_OK(r.is_error && r.usage_error); /* the built-in has no 'ping' */
    T_STREQ(json_string_value(json_object_get(json_object_get(r.structured, "error"), "code")), "invalid_params");
    hml_reply_fini(&r);
    json_decref(args);
}

/* ---- progress and cancel through profile ------------------------------------------------ */

struct seen {
    int n;
    double done[64], total[64];
    char first[128];
    volatile int *cancel_after_first;
};

static void on_progress(void *ud, double done, double total, const char *msg)
{
    struct seen *s = ud;
    if (s->n < 64) {
        s->done[s->n] = done;
        s->total[s->n] = total;
    }
    if (s->n++ == 0) snprintf(s->first, sizeof s->first, "%s", msg);
    if (s->cancel_after_first) *s->cancel_after_first = 1;
}

static const char *make_project(void)
{
    struct hml_error err;
    struct hml_reply r;
    struct hml_call_opts opts = {.default_project_dir = t_tmpdir()};
    json_t *init = json_pack("{s:s,s:s,s:s}", "action", "init", "task", "binary", "target_column", "survived");
    T_RC(hml_tool_call("configure", init, &opts, &r, &err), &err);
    T_OK(!r.is_error);
    hml_reply_fini(&r);
    json_t *add = json_pack("{s:s,s:s}", "action", "add", "data_path", t_shared_data("titanic.csv"));
    T_RC(hml_tool_call("data", add, &opts, &r, &err), &err);
    if (r.is_error) t_failf(__FILE__, __LINE__, "data add: %s", r.text);
    hml_reply_fini(&r);
    json_decref(init);
    json_decref(add);
    return t_tmpdir();
}

TEST(profile_reports_progress_per_column)
{
    const char *dir = make_project();
    struct seen s = {0};
    struct hml_call_opts opts = {.default_project_dir = dir, .progress = on_progress, .progress_ud = &s};
    struct hml_reply r;
    struct hml_error err;
    json_t *args = json_pack("{s:s}", "action", "profile");
    T_RC(hml_tool_call("data", args, &opts, &r, &err), &err);
    T_OK(!r.is_error);
    size_t ncols = json_array_size(json_object_get(r.structured, "columns"));
    T_OK(ncols >= 10);
    T_EQ(s.n, ncols);
    for (int i = 0; i < s.n && i < 64; i++) {
        T_NEAR(s.done[i], i + 1, 0);
        T_NEAR(s.total[i], (double)ncols, 0);
    }
    T_CONTAINS(s.first, "column 1/");
    hml_reply_fini(&r);
    json_decref(args);
}

TEST(profile_stops_at_the_next_column_when_cancelled)
{
    const char *dir = make_project();
    volatile int cancel = 0;
    struct seen s = {.cancel_after_first = &cancel};
    struct hml_call_opts opts = {.default_project_dir = dir, .progress = on_progress, .progress_ud = &s,
                                 .cancel = &cancel};
    struct hml_reply r;
    struct hml_error err;
    json_t *args = json_pack("{s:s}", "action", "profile");
    T_RC(hml_tool_call("data", args, &opts, &r, &err), &err);
    T_OK(r.is_error && !r.usage_error);
    T_EQ(s.n, 1); /* one column, then the flag was seen before the second */
    json_t *e = json_object_get(r.structured, "error");
    T_STREQ(json_string_value(json_object_get(e, "code")), "blocked");
    T_CONTAINS(json_string_value(json_object_get(e, "message")), "cancelled");
    T_CONTAINS(json_string_value(json_object_get(e, "hint")), "nothing was changed");
    hml_reply_fini(&r);
    json_decref(args);
}
