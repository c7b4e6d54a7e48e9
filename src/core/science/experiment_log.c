/* experiment_log.c — EXPERIMENT_LOG.md, regenerated from the journal after every change.
 *
 * One format only (upstream appended rows of an older shape into the same file): a table
 * of every experiment, oldest first, then one section per experiment. The file is a view;
 * the journal is the record, so nothing here is ever parsed back. */
#include "harness/experiment.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness/alloc.h"

#define CELL_CHARS  80  /* of a hypothesis in the table     */
#define VALUE_CHARS 60  /* of a changed value in a section  */

static const char empty_log[] = "# Experiment log\n\nGenerated from experiments/journal.jsonl. No experiments yet.\n";

/* Up to `chars` UTF-8 characters of s on one line, pipes escaped for a table cell. */
static void put_text(struct hml_buf *b, const char *s, size_t chars, bool cell)
{
    size_t n = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c & 0xC0) != 0x80 && n++ == chars) {
            hml_buf_puts(b, "…");
            return;
        }
        if (c == '\n' || c == '\r' || c == '\t') hml_buf_putc(b, ' ');
        else if (cell && c == '|') hml_buf_puts(b, "\\|");
        else hml_buf_putc(b, (char)c);
    }
}

static void put_num(struct hml_buf *b, const json_t *v, bool sign)
{
    if (!json_is_number(v)) {
        hml_buf_puts(b, "–");
        return;
    }
    double x = json_number_value(v), a = fabs(x);
    char s[40];
    if (a != 0 && (a >= 1e7 || a < 1e-4)) snprintf(s, sizeof s, sign ? "%+.3e" : "%.3e", x);
    else snprintf(s, sizeof s, sign ? "%+.4f" : "%.4f", x);
    if (!strchr(s, 'e')) { /* trailing zeros say nothing */
        size_t n = strlen(s);
        while (n && s[n - 1] == '0') s[--n] = 0;
        if (n && s[n - 1] == '.') s[--n] = 0;
    }
    hml_buf_puts(b, s);
}

static void put_value(struct hml_buf *b, const json_t *v)
{
    if (!v) {
        hml_buf_puts(b, "(unset)");
        return;
    }
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
    put_text(b, t ? t : "?", VALUE_CHARS, false);
    hml_free(t);
}

/* "2026-03-09 12:34" from an ISO time (whatever it holds when it is not one). */
static void put_when(struct hml_buf *b, const char *iso)
{
    if (strlen(iso) >= 16 && iso[10] == 'T') hml_buf_printf(b, "%.10s %.5s", iso, iso + 11);
    else put_text(b, iso, 32, false);
}

static const char *goal_arrow(const json_t *result)
{
    const char *g = hml_json_str(result, "goal", "");
    return !strcmp(g, "lower") ? " ↓" : !strcmp(g, "higher") ? " ↑" : "";
}

static void table_row(struct hml_buf *b, const json_t *r)
{
    const json_t *res = json_object_get(r, "result"), *con = json_object_get(r, "conclusion");
    const json_t *paired = json_object_get(res, "paired");
    hml_buf_printf(b, "| %s | %s | ", hml_json_str(r, "experiment_id", "?"), hml_json_str(r, "status", "?"));
    put_text(b, hml_json_str(r, "hypothesis", ""), CELL_CHARS, true);
    if (res) {
        hml_buf_printf(b, " | %s%s | ", hml_json_str(res, "primary_metric", "?"), goal_arrow(res));
        put_num(b, json_object_get(res, "baseline"), false);
        hml_buf_puts(b, " | ");
        put_num(b, json_object_get(res, "result"), false);
        hml_buf_puts(b, " | ");
        put_num(b, json_object_get(res, "delta"), true);
        hml_buf_printf(b, " | %s, %lld/%lld folds better | ", hml_json_str(res, "verdict", "?"),
                       (long long)hml_json_int(paired, "better", 0), (long long)hml_json_int(paired, "n", 0));
    } else {
        hml_buf_puts(b, " | – | – | – | – | not run | ");
    }
    hml_buf_printf(b, "%s |\n", con ? hml_json_str(con, "verdict", "–") : "–");
}

static void section_changes(struct hml_buf *b, const json_t *r)
{
    const json_t *ch = json_object_get(r, "config_changes");
    if (!json_object_get(r, "overlay")) {
        hml_buf_puts(b, "- Changes: no overlay written yet\n");
        return;
    }
    if (!json_array_size(ch)) {
        hml_buf_puts(b, "- Changes: none (a baseline run)\n");
        return;
    }
    hml_buf_puts(b, "- Changes:");
    size_t i;
    json_t *c;
    json_array_foreach(ch, i, c) {
        hml_buf_printf(b, "%s`%s`: ", i ? "; " : " ", hml_json_str(c, "path", "?"));
        put_value(b, json_object_get(c, "old"));
        hml_buf_puts(b, " → ");
        put_value(b, json_object_get(c, "new"));
    }
    hml_buf_putc(b, '\n');
}

static void section_result(struct hml_buf *b, const json_t *res)
{
    const json_t *p = json_object_get(res, "paired");
    hml_buf_printf(b, "- Result: %s%s ", hml_json_str(res, "primary_metric", "?"), goal_arrow(res));
    put_num(b, json_object_get(res, "baseline"), false);
    hml_buf_puts(b, " → ");
    put_num(b, json_object_get(res, "result"), false);
    hml_buf_puts(b, " (Δ ");
    put_num(b, json_object_get(res, "delta"), true);
    hml_buf_printf(b, "); paired over %lld folds: mean gain ", (long long)hml_json_int(p, "n", 0));
    put_num(b, json_object_get(p, "mean"), true);
    hml_buf_puts(b, ", se ");
    put_num(b, json_object_get(p, "se"), false);
    hml_buf_puts(b, ", t ");
    put_num(b, json_object_get(p, "t"), false);
    hml_buf_puts(b, " vs ");
    put_num(b, json_object_get(p, "t_crit"), false);
    hml_buf_printf(b, " → %s; %lld of %lld folds better; runs %s (baseline), %s\n", hml_json_str(res, "verdict", "?"),
                   (long long)hml_json_int(p, "better", 0), (long long)hml_json_int(p, "n", 0),
                   hml_json_str(res, "baseline_run_id", "?"), hml_json_str(res, "run_id", "?"));
}

static void section(struct hml_buf *b, const json_t *r)
{
    hml_buf_printf(b, "\n## %s · ", hml_json_str(r, "experiment_id", "?"));
    put_text(b, hml_json_str(r, "description", ""), 200, false);
    hml_buf_printf(b, "\n\n- Status: %s · created ", hml_json_str(r, "status", "?"));
    put_when(b, hml_json_str(r, "created_at", ""));
    const char *const extra[][2] = {{"phase", "phase"}, {"parent_id", "parent"}, {"plan_id", "plan"}};
    for (size_t i = 0; i < 3; i++)
        if (hml_json_str(r, extra[i][0], NULL)) hml_buf_printf(b, " · %s: %s", extra[i][1], hml_json_str(r, extra[i][0], ""));
    hml_buf_puts(b, "\n- Hypothesis: ");
    put_text(b, hml_json_str(r, "hypothesis", ""), HML_EXP_TEXT_MAX, false);
    hml_buf_putc(b, '\n');
    section_changes(b, r);
    const json_t *res = json_object_get(r, "result"), *con = json_object_get(r, "conclusion");
    if (res) section_result(b, res);
    if (con) {
        hml_buf_printf(b, "- Verdict: %s — ", hml_json_str(con, "verdict", "?"));
        put_text(b, hml_json_str(con, "text", ""), HML_EXP_TEXT_MAX, false);
        hml_buf_putc(b, '\n');
        const char *const more[][2] = {{"learnings", "Learnings"}, {"next_steps", "Next steps"}};
        for (size_t i = 0; i < 2; i++) {
            if (!hml_json_str(con, more[i][0], NULL)) continue;
            hml_buf_printf(b, "- %s: ", more[i][1]);
            put_text(b, hml_json_str(con, more[i][0], ""), HML_EXP_TEXT_MAX, false);
            hml_buf_putc(b, '\n');
        }
    }
    const json_t *pr = json_object_get(r, "promoted");
    if (pr) {
        hml_buf_puts(b, "- Promoted into the config ");
        put_when(b, hml_json_str(pr, "at", ""));
        hml_buf_printf(b, "%s\n", hml_json_bool(pr, "human_override", false) ? " by human override of the leak guardrail" : "");
    }
}

void hml_exp_log_render(const struct hml_exp_journal *j, struct hml_buf *out)
{
    if (!j->n) {
        hml_buf_puts(out, empty_log);
        return;
    }
    hml_buf_puts(out, "# Experiment log\n\nGenerated from experiments/journal.jsonl (the newest line of each experiment); "
                      "do not edit by hand.\n\n| id | status | hypothesis | metric | baseline | result | Δ | test | verdict |\n"
                      "|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < j->n; i++) table_row(out, j->recs[i]);
    for (size_t i = 0; i < j->n; i++) section(out, j->recs[i]);
}
