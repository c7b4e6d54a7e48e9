# Tests of the experiments tool (loaded into run.py's module: h, ok, fails, tree_digest,
# titanic_project, titanic_models_project, read_csv, …).


def project_digest(d):
    """tree_digest without the store: refusals are recorded there (guard_audit), nowhere else."""
    return {k: v for k, v in tree_digest(d).items() if not k.startswith(".harness/store.db")}


def audit_rows(d):
    con = sqlite3.connect(os.path.join(d, ".harness/store.db"))
    rows = con.execute("select tool, action, guardrail, outcome, overridden, subject, message from guard_audit order by id").fetchall()
    con.close()
    return rows


def journal_lines(d):
    with open(os.path.join(d, "experiments", "journal.jsonl"), encoding="utf-8") as f:
        text = f.read()
    assert text.endswith("\n"), repr(text[-80:])
    return [json.loads(line) for line in text.splitlines()]


def read_text(d, rel):
    with open(os.path.join(d, rel), encoding="utf-8") as f:
        return f.read()


def refused(d, r, guardrail, in_message=None, in_hint=None, code="blocked"):
    """A gate refusal: the code, where = guardrail.<name>, the hint, and a guard_audit row."""
    e = fails(r, code, in_message=in_message)
    assert e.get("where") == "guardrail." + guardrail, e
    if in_hint:
        assert in_hint in e["hint"], (in_hint, e["hint"])
    last = audit_rows(d)[-1]
    assert last[2] == guardrail and last[3] == "refused" and last[4] == 0 and last[6] == e["message"], last
    return e


def experiment_project(xgb_depth=3):
    d = titanic_models_project()
    if xgb_depth != 3:
        ok(h(d, "models", "update", name="xgb", params={"max_depth": xgb_depth}))
    return d


def plan(d, content="Baseline first, then one change at a time."):
    return ok(h(d, "notebook", "write", type="plan", content=content))["id"]


# ---- the order of the lifecycle ----------------------------------------------------------------------


@test
def experiments_gates_plan_overlay_and_log_before_next():
    d = experiment_project()
    before = project_digest(d)
    refused(d, h(d, "experiments", "create", hypothesis="deeper trees help"), "plan_required",
            in_message="no plan in the notebook", in_hint="notebook write --type plan")
    assert project_digest(d) == before, "a refusal changes no project file"
    plan_id = plan(d)
    fails(h(d, "experiments", "create"), "invalid_params", rc=2, in_message="'hypothesis' is required")
    fails(h(d, "experiments", "create", hypothesis="   "), "invalid_params", in_message="empty")
    fails(h(d, "experiments", "create", hypothesis="h", parent_id="exp-009"), "not_found", in_message="parent_id")
    j = ok(h(d, "experiments", "create", hypothesis="The config as it is, to know the noise.", description="baseline"))
    assert j["experiment_id"] == "exp-001" and j["experiment"]["plan_id"] == plan_id and j["experiment"]["status"] == "created"
    hyp = read_text(d, "experiments/exp-001/hypothesis.md")
    assert hyp.startswith("# exp-001 · baseline\n\n## Hypothesis\n\nThe config as it is, to know the noise.\n"), hyp
    lines = journal_lines(d)
    assert len(lines) == 1 and lines[0]["experiment_id"] == "exp-001" and lines[0]["rev"] == 1, lines

    # A run needs an overlay, or an explicit {} for the baseline.
    before = project_digest(d)
    e = refused(d, h(d, "experiments", "run", experiment_id="exp-001"), "overlay_required",
                in_hint="write_overlay --experiment_id exp-001")
    assert "--overlay '{}' to run the baseline" in e["hint"], e
    assert project_digest(d) == before
    j = ok(h(d, "experiments", "write_overlay", experiment_id="exp-1", overlay={}))  # exp-1 is exp-001
    assert j["changes"] == [] and j["experiment_id"] == "exp-001"
    assert read_text(d, "experiments/exp-001/overlay.yaml").endswith("{}\n")
    j = ok(h(d, "experiments", "run", experiment_id="exp-001"))
    r = j["results"]
    assert r["verdict"] == "neutral" and r["paired"]["better"] == 0 and r["paired"]["worse"] == 0, r
    assert all(f["delta"] == 0 for f in r["folds"]) and len(r["folds"]) == 5
    with open(os.path.join(d, "outputs", r["run_id"], "metrics.json")) as f:
        exp_run = json.load(f)
    assert exp_run["fits"] == 0 and exp_run["cache_hits"] == 10, "the same config refits nothing"
    assert exp_run["experiment"] == {"id": "exp-001", "role": "experiment"}

    # No new experiment while exp-001 has no logged result: create, quick_run and run all say so.
    before = project_digest(d)
    refused(d, h(d, "experiments", "create", hypothesis="x"), "experiment_logged",
            in_hint="experiments log_result --experiment_id exp-001")
    refused(d, h(d, "experiments", "quick_run", hypothesis="x", overlay={"models.xgb.params.max_depth": 2}),
            "experiment_logged", in_hint="log_result --experiment_id exp-001")
    assert project_digest(d) == before
    fails(h(d, "experiments", "log_result", experiment_id="exp-001", conclusion="x", verdict="marginal"),
          "invalid_params", rc=2)
    j = ok(h(d, "experiments", "log_result", experiment_id="exp-001", verdict="INCONCLUSIVE",
             conclusion="Identical predictions: the cache served every fold."))
    assert j["status"] == "concluded" and j["conclusion"]["verdict"] == "inconclusive"
    assert "Identical predictions" in read_text(d, "experiments/exp-001/conclusion.md")
    ok(h(d, "experiments", "create", hypothesis="now allowed"))
    # After a run the overlay is frozen, and a logged experiment does not run again.
    fails(h(d, "experiments", "write_overlay", experiment_id="exp-001", overlay={}), "conflict", in_message="has run")
    fails(h(d, "experiments", "run", experiment_id="exp-001"), "conflict", in_message="concluded")
    assert [a[2] for a in audit_rows(d)] == ["plan_required", "overlay_required", "experiment_logged", "experiment_logged"]


@test
def experiments_replan_every_n_and_abandon_without_run():
    d = experiment_project()
    plan(d)
    with open(os.path.join(d, "config/pipeline.yaml")) as f:
        text = f.read()
    with open(os.path.join(d, "config/pipeline.yaml"), "w") as f:
        f.write(text.replace("workflow:\n", "workflow:\n  replan_every: 2\n"))
    ok(h(d, "experiments", "create", hypothesis="one"))
    ok(h(d, "experiments", "create", hypothesis="two"))  # created, not run: they do not block each other
    before = project_digest(d)
    e = refused(d, h(d, "experiments", "create", hypothesis="three"), "replan",
                in_message="2 experiments since plan nb-001 (workflow.replan_every = 2)", in_hint="notebook write --type plan")
    assert project_digest(d) == before
    plan(d, "Depth did nothing; next: features.")
    j = ok(h(d, "experiments", "create", hypothesis="three"))
    assert j["experiment_id"] == "exp-003" and j["experiment"]["plan_id"] == "nb-002"
    # An experiment that never ran can be closed; it is "abandoned", and never promoted.
    j = ok(h(d, "experiments", "log_result", experiment_id="exp-002", conclusion="superseded by exp-003"))
    assert j["status"] == "abandoned" and j["conclusion"]["verdict"] == "inconclusive"
    fails(h(d, "experiments", "promote", experiment_id="exp-002"), "conflict", in_message="closed without a run")
    refused(d, h(d, "experiments", "promote", experiment_id="exp-001"), "promote_after_log",
            in_message="has not run", in_hint="experiments run --experiment_id exp-001")
    fails(h(d, "experiments", "run", experiment_id="exp-002"), "conflict", in_message="abandoned")
    j = ok(h(d, "experiments", "journal", status="abandoned"))
    assert [x["experiment_id"] for x in j["experiments"]] == ["exp-002"] and j["total"] == 1


# ---- overlays ---------------------------------------------------------------------------------------------


@test
def experiments_overlay_validation_single_variable_and_do_not_retry():
    d = experiment_project()
    plan(d)
    ok(h(d, "experiments", "create", hypothesis="shallower xgb generalises better"))
    before = project_digest(d)
    fails(h(d, "experiments", "write_overlay", experiment_id="exp-001", overlay={"models.xgb.parms.max_depth": 2}),
          "invalid_params", did_you_mean="params")
    fails(h(d, "experiments", "write_overlay", experiment_id="exp-001", overlay={"models.xgbb.params.max_depth": 2}),
          "not_found", did_you_mean="xgb")
    e = fails(h(d, "experiments", "write_overlay", experiment_id="exp-001",
                overlay={"guardrails.feature_leakage_denylist": []}), "invalid_params")
    assert "cannot relax a guardrail" in e["hint"], e
    e = fails(h(d, "experiments", "write_overlay", experiment_id="exp-001", overlay={"models.xgb.features": ["survived"]}),
              "blocked", in_message="target")
    fails(h(d, "experiments", "write_overlay", experiment_id="exp-001", overlay={"models.xgb.params.max_depht": 2}),
          "invalid_params", did_you_mean="max_depth")
    fails(h(d, "experiments", "write_overlay", experiment_id="exp-001", overlay="[1]"), "invalid_params", rc=2)
    fails(h(d, "experiments", "write_overlay", experiment_id="exp-01x", overlay={}), "not_found", did_you_mean="exp-001")
    assert project_digest(d) == before
    cfg_before = {k: v for k, v in tree_digest(d).items() if k.startswith("config/")}

    # Two changes at once: allowed, with a warning (and a guard_audit row).
    j = ok(h(d, "experiments", "write_overlay", experiment_id="exp-001",
             overlay={"models.xgb.params.max_depth": 2, "models.lgb.params.num_leaves": 4, "description": "notes"}))
    w = " ".join(j["warnings"])
    assert "changes 2 things (models.xgb.params.max_depth, models.lgb.params.num_leaves)" in w and "single_variable" in w, w
    assert "left out" in w  # description inside an overlay is a note, not config
    assert audit_rows(d)[-1][2:5] == ("single_variable", "warned", 0), audit_rows(d)
    # Written again with one change: the overlay is replaced, the config never touched.
    j = ok(h(d, "experiments", "write_overlay", experiment_id="exp-001", overlay={"models.xgb.params.max_depth": 2}))
    assert "warnings" not in j and j["overlay"] == {"models": {"xgb": {"params": {"max_depth": 2}}}}
    assert j["changes"] == [{"path": "models.xgb.params.max_depth", "old": 3, "new": 2}]
    assert read_text(d, "experiments/exp-001/overlay.yaml").endswith("models:\n  xgb:\n    params:\n      max_depth: 2\n")
    ok(h(d, "experiments", "run", experiment_id="exp-001"))
    assert {k: v for k, v in tree_digest(d).items() if k.startswith("config/")} == cfg_before, "experiments never edit config"
    ok(h(d, "experiments", "log_result", experiment_id="exp-001", verdict="revert", conclusion="no help"))

    # The same change spelled as nested keys is the same overlay: refused, naming exp-001 and its result.
    ok(h(d, "experiments", "create", hypothesis="again"))
    before = project_digest(d)
    e = refused(d, h(d, "experiments", "write_overlay", experiment_id="exp-002",
                     overlay={"models": {"xgb": {"params": {"max_depth": 2}}}}), "do_not_retry",
                in_message="already ran as exp-001 (brier", in_hint="human_override=true")
    assert "logged revert" in e["message"], e
    refused(d, h(d, "experiments", "quick_run", hypothesis="again", overlay={"models.xgb.params.max_depth": 2}),
            "do_not_retry", in_message="exp-001")
    assert project_digest(d) == before
    j = ok(h(d, "experiments", "write_overlay", experiment_id="exp-002", overlay={"models.xgb.params.max_depth": 2},
             human_override=True))
    assert any("overridden by human_override" in w for w in j["warnings"]), j
    assert audit_rows(d)[-1][2:6] == ("do_not_retry", "overridden", 1, "exp-001"), audit_rows(d)[-1]


# ---- run: the verdict and what it records ------------------------------------------------------------------


def paired_reference(folds):
    """The paired test recomputed from the per-fold numbers (lower is better: gain = baseline − experiment)."""
    g = [f["baseline"] - f["experiment"] for f in folds]
    n = len(g)
    mean = sum(g) / n
    sd = (sum((x - mean) ** 2 for x in g) / (n - 1)) ** 0.5
    return mean, sd, sd / n ** 0.5


@test
def experiments_run_judges_by_a_paired_test_and_promote_writes_the_config():
    d = experiment_project(xgb_depth=1)
    plan(d)
    cfg0 = ok(h(d, "configure", "show", detail="full"))["config"]
    j = ok(h(d, "experiments", "quick_run", description="depth 3", overlay={"models.xgb.params.max_depth": 3},
             hypothesis="Depth 1 cannot express class × gender; depth 3 lowers brier on every fold."))
    r = j["results"]
    assert j["experiment_id"] == "exp-001" and r["verdict"] == "improved" and r["primary_metric"] == "brier", r
    mean, sd, se = paired_reference(r["folds"])
    p = r["paired"]
    assert p["n"] == 5 and abs(p["mean"] - mean) < 1e-12 and abs(p["se"] - se) < 1e-12 and abs(p["t"] - mean / se) < 1e-9, p
    assert abs(p["t_crit"] - 2.1318467863266495) < 1e-12 and p["t"] > p["t_crit"]
    assert p["better"] == sum(f["better"] for f in r["folds"])
    # Every number comes from the two saved runs, which landed in outputs/ as normal runs.
    runs = {}
    for role, rid in [("baseline", r["baseline_run_id"]), ("experiment", r["run_id"])]:
        with open(os.path.join(d, "outputs", rid, "metrics.json")) as f:
            runs[role] = json.load(f)
        assert runs[role]["experiment"] == {"id": "exp-001", "role": role}
        assert os.path.isfile(os.path.join(d, "outputs", rid, "predictions.csv"))
    for i, f in enumerate(r["folds"]):
        assert f["baseline"] == runs["baseline"]["ensemble"]["fold_metrics"][i]["brier"]
        assert f["experiment"] == runs["experiment"]["ensemble"]["fold_metrics"][i]["brier"]
    assert r["metrics"] == runs["experiment"]["ensemble"]["metrics"] and r["baseline_metrics"] == runs["baseline"]["ensemble"]["metrics"]
    assert runs["experiment"]["fits"] == 5 and runs["experiment"]["cache_hits"] == 5, "only the changed model refits"
    stored = sqlite3.connect(os.path.join(d, ".harness/store.db")).execute(
        "select run_id from runs where experiment_id = 'exp-001' order by run_id").fetchall()
    assert sorted(x[0] for x in stored) == sorted([r["baseline_run_id"], r["run_id"]])
    with open(os.path.join(d, "experiments/exp-001/results.json")) as f:
        assert json.load(f) == r
    md = h(d, "experiments", "journal", experiment_id="exp-001", fmt="md").out
    assert "## exp-001 · depth 3\n" in md and "- Changes: `models.xgb.params.max_depth`: 1 → 3\n" in md, md

    # The answer leads with the verdict and says how it was reached.
    rec = journal_lines(d)[-1]
    assert rec["status"] == "completed" and len(rec["trials"]) == 1 and rec["result"]["verdict"] == "improved"
    assert rec["trials"][0]["fold_metrics"] == runs["experiment"]["ensemble"]["fold_metrics"]
    assert rec["config_changes"] == [{"path": "models.xgb.params.max_depth", "old": 1, "new": 3}]
    log = read_text(d, "EXPERIMENT_LOG.md")
    row = [l for l in log.splitlines() if l.startswith("| exp-001 |")]
    assert len(row) == 1 and "| completed | Depth 1 cannot express" in row[0] and "| improved, 5/5 folds better | – |" in row[0], row

    # promote before log_result is refused; after it, the overlay lands in the config.
    before = project_digest(d)
    refused(d, h(d, "experiments", "promote", experiment_id="exp-001"), "promote_after_log",
            in_hint="log_result --experiment_id exp-001 --verdict keep")
    assert project_digest(d) == before
    r = h(d, "experiments", "log_result", experiment_id="exp-001", verdict="keep", conclusion="Better on every fold.",
          learnings="Interactions matter.", next_steps="Try depth 4.", fmt="md")
    assert r.rc == 0 and "Next: experiments promote --experiment_id exp-001" in r.out, r.out
    j = ok(h(d, "experiments", "promote", experiment_id="exp-001"))
    assert j["changes"] == [{"path": "models.xgb.params.max_depth", "old": 1, "new": 3}]
    cfg = ok(h(d, "configure", "show", detail="full"))["config"]
    assert cfg["models"]["xgb"]["params"]["max_depth"] == 3
    cfg["models"]["xgb"]["params"]["max_depth"] = 1
    assert cfg == cfg0, "promote changes exactly what the overlay changes"
    rec = journal_lines(d)[-1]
    assert rec["status"] == "promoted" and rec["promoted"]["human_override"] is False and rec["rev"] == 3
    log = read_text(d, "EXPERIMENT_LOG.md")
    assert "| exp-001 | promoted |" in log and "- Verdict: keep — Better on every fold.\n- Learnings: Interactions matter.\n" in log
    assert "- Promoted into the config " in log and "human override" not in log
    fails(h(d, "experiments", "promote", experiment_id="exp-001"), "conflict", in_message="promoted already")
    fails(h(d, "experiments", "log_result", experiment_id="exp-001", conclusion="x"), "conflict")

    # Back to depth 1 on the new config: regressed, logged revert, never promoted.
    j = ok(h(d, "experiments", "quick_run", hypothesis="Depth 1 was as good.", overlay={"models.xgb.params.max_depth": 1},
             primary_metric="logloss"))
    r = j["results"]
    assert r["verdict"] == "regressed" and r["primary_metric"] == "log_loss" and r["paired"]["t"] < -r["paired"]["t_crit"], r
    ok(h(d, "experiments", "log_result", experiment_id="exp-002", verdict="keep", conclusion="mislabelled on purpose"))
    refused(d, h(d, "experiments", "promote", experiment_id="exp-002"), "promote_improved", in_message="did not improve log_loss")
    ok(h(d, "experiments", "log_result", experiment_id="exp-002", verdict="revert", conclusion="Worse everywhere."))
    refused(d, h(d, "experiments", "promote", experiment_id="exp-002"), "promote_verdict", in_message="logged 'revert'")


@test
def experiments_run_answer_reads_verdict_table_and_folds():
    d = experiment_project(xgb_depth=1)
    plan(d)
    r = h(d, "experiments", "quick_run", hypothesis="deeper", overlay={"models.xgb.params.max_depth": 3}, fmt="md")
    assert r.rc == 0, r.err
    out = r.out
    assert out.startswith("## Experiment exp-001 · deeper\n**Verdict: improved** — brier ↓ "), out
    assert "Paired over 5 folds: mean gain +" in out and "(one-sided t-test, 95%): beyond fold-to-fold noise; 5 of 5 folds better." in out
    assert "| metric | baseline | experiment | Δ | |" in out and "| brier ↓ |" in out and "| auc_roc ↑ |" in out
    assert "brier by fold:\n| fold | baseline | experiment | Δ |" in out and out.count(" ✓ |") == 5
    assert "Next: experiments log_result --experiment_id exp-001" in out
    assert len(out) < 2500, len(out)


@test
def experiments_promote_refuses_a_planted_leak_unless_a_person_overrides():
    d = experiment_project()
    rows = read_csv("titanic.csv")
    leak = os.path.join(d, "leak.csv")
    rng = __import__("random").Random(3)
    with open(leak, "w") as f:  # the label plus noise: known only after the outcome
        f.write("passenger_id,after_rescue\n")
        for r in rows:
            f.write(f"{r['passenger_id']},{float(r['survived']) + rng.gauss(0, 0.3):.4f}\n")
    ok(h(d, "data", "add", data_path=leak, join_on="passenger_id"))
    ok(h(d, "configure", "exclude_columns", add_columns=["after_rescue"]))
    plan(d)
    overlay = {"models.rescue": {"type": "xgboost", "params": {"n_estimators": 20, "max_depth": 2},
                                 "features": ["after_rescue", "age"]}}
    j = ok(h(d, "experiments", "quick_run", hypothesis="A rescue-time signal predicts survival.", overlay=overlay))
    assert j["results"]["verdict"] == "improved"
    ok(h(d, "experiments", "log_result", experiment_id="exp-001", verdict="keep", conclusion="Huge gain."))
    before = project_digest(d)
    e = refused(d, h(d, "experiments", "promote", experiment_id="exp-001"), "suspicious_improvement",
                in_message="most likely a leak", in_hint="human_override=true")
    assert "model 'rescue'" in e["message"] and "floor 0.05" in e["message"], e
    assert project_digest(d) == before, "a refused promote leaves config and journal as they were"
    assert "rescue" not in ok(h(d, "configure", "show", detail="full"))["config"]["models"]
    # A person may take the risk; it is recorded in the journal, the log and the store.
    j = ok(h(d, "experiments", "promote", experiment_id="exp-001", human_override=True))
    assert any("suspicious_improvement, overridden by human_override" in w for w in j["warnings"]), j
    assert "rescue" in ok(h(d, "configure", "show", detail="full"))["config"]["models"]
    rec = journal_lines(d)[-1]
    assert rec["promoted"]["human_override"] is True and rec["promoted"]["largest_improvement"] > rec["promoted"]["plausible_max"]
    assert "by human override of the leak guardrail" in read_text(d, "EXPERIMENT_LOG.md")
    assert [a[2:5] for a in audit_rows(d)[-2:]] == [("suspicious_improvement", "refused", 0),
                                                     ("suspicious_improvement", "overridden", 1)]


@test
def experiments_max_improvement_config_and_failed_commit():
    d = experiment_project(xgb_depth=1)
    plan(d)
    ok(h(d, "experiments", "quick_run", hypothesis="deeper", overlay={"models.xgb.params.max_depth": 3}))
    ok(h(d, "experiments", "log_result", experiment_id="exp-001", verdict="keep", conclusion="ok"))
    with open(os.path.join(d, "config/pipeline.yaml")) as f:
        text = f.read()
    with open(os.path.join(d, "config/pipeline.yaml"), "w") as f:
        f.write(text.replace("guardrails:\n", "guardrails:\n  max_improvement:\n    brier: 0.001\n"))
    e = refused(d, h(d, "experiments", "promote", experiment_id="exp-001"), "suspicious_improvement")
    assert "guardrails.max_improvement.brier = 0.001" in e["message"], e
    with open(os.path.join(d, "config/pipeline.yaml"), "w") as f:
        f.write(text)
    # A commit that fails half-way leaves config, journal and log exactly as they were.
    before = project_digest(d)
    for k in ["1", "2", "3"]:
        fails(h(d, "experiments", "promote", experiment_id="exp-001", env={"HARNESS_FAIL_COMMIT_AT": k}), "io")
        assert project_digest(d) == before, k
    ok(h(d, "experiments", "promote", experiment_id="exp-001"))


# ---- baselines, reading, the journal file ------------------------------------------------------------------


@test
def experiments_baseline_run_id_compare_and_journal():
    d = experiment_project()
    plan(d)
    base = ok(h(d, "pipeline", "run_backtest"))
    fails(h(d, "experiments", "quick_run", hypothesis="x", overlay={}, baseline_run_id="run-nope"), "not_found")
    j = ok(h(d, "experiments", "quick_run", hypothesis="shallower lgb", overlay={"models.lgb.params.num_leaves": 4},
             baseline_run_id=base["run_id"], primary_metric="auc"))
    r = j["results"]
    assert r["baseline_run_id"] == base["run_id"] and r["primary_metric"] == "auc_roc"
    assert r["baseline_metrics"] == base["ensemble"]["metrics"]
    rec = journal_lines(d)[-1]
    assert rec["result"]["baseline_reused"] is True and rec["result"]["goal"] == "higher"
    ok(h(d, "experiments", "log_result", experiment_id="exp-001", verdict="partial", conclusion="mixed"))
    fails(h(d, "experiments", "quick_run", hypothesis="x", overlay={}, primary_metric="sharpness"), "invalid_params",
          in_message="does not apply to a binary task")
    fails(h(d, "experiments", "quick_run", hypothesis="x", overlay={}, primary_metric="confusion_matrix"), "invalid_params",
          in_message="informational")
    fails(h(d, "experiments", "quick_run", hypothesis="x", overlay={}, primary_metric="breir"), "invalid_params",
          did_you_mean="brier")
    ok(h(d, "experiments", "quick_run", hypothesis="the baseline again", overlay={"description": "just a note"}))
    ok(h(d, "experiments", "log_result", experiment_id="exp-002", verdict="inconclusive", conclusion="noise floor"))
    j = ok(h(d, "experiments", "compare", experiment_ids=["exp-001", "exp-002"]))
    assert [x["experiment_id"] for x in j["experiments"]] == ["exp-001", "exp-002"] and j["experiments"][0]["trials"] == 1
    out = h(d, "experiments", "compare", experiment_ids="exp-001,exp-002", fmt="md").out
    assert "| exp-001 | concluded | 1 | auc_roc |" in out and "| exp-002 | concluded | 0 | brier |" in out, out
    assert "different metrics" in out
    fails(h(d, "experiments", "compare", experiment_ids=["exp-001"]), "invalid_params")
    fails(h(d, "experiments", "compare", experiment_ids=["exp-001", "exp-003"]), "not_found")
    j = ok(h(d, "experiments", "journal", last_n=1))
    assert [x["experiment_id"] for x in j["experiments"]] == ["exp-002"] and j["total"] == 2
    j = ok(h(d, "experiments", "journal", experiment_id="exp-001"))
    assert j["experiment"]["trials"][0]["run_id"] == r["run_id"]
    fails(h(d, "experiments", "journal", status="done"), "invalid_params", rc=2)
    fails(h(d, "experiments", "journal", last_n=0), "invalid_params")


@test
def experiments_journal_is_the_source_of_truth_and_survives_a_torn_line():
    d = experiment_project()
    plan(d)
    ok(h(d, "experiments", "create", hypothesis="one"))
    ok(h(d, "experiments", "write_overlay", experiment_id="exp-001", overlay={"ensemble.method": "stacked"}))
    lines = journal_lines(d)
    assert [(x["experiment_id"], x["rev"], x["status"]) for x in lines] == [("exp-001", 1, "created"), ("exp-001", 2, "created")]
    assert "overlay" in lines[1] and "overlay" not in lines[0], "the newest line carries the current state"
    path = os.path.join(d, "experiments", "journal.jsonl")
    with open(path, "a") as f:
        f.write('{"experiment_id":"exp-002","rev":1,"hyp')  # a crash mid-write
    j = ok(h(d, "experiments", "journal"))
    assert [x["experiment_id"] for x in j["experiments"]] == ["exp-001"]
    assert any("incomplete" in w for w in j["warnings"]), j
    j = ok(h(d, "experiments", "create", hypothesis="two"))
    assert j["experiment_id"] == "exp-002"
    with open(path) as f:
        text = f.read()
    assert '"hyp\n' not in text and text.count("\n") == 3 and text.endswith("\n")
    # EXPERIMENT_LOG.md is regenerated from the journal: one table row per experiment, one format.
    log = read_text(d, "EXPERIMENT_LOG.md")
    assert log.startswith("# Experiment log\n\nGenerated from experiments/journal.jsonl")
    assert [l.split(" | ")[0] for l in log.splitlines() if l.startswith("| exp-")] == ["| exp-001", "| exp-002"]
    assert "- Changes: `ensemble.method`: \"average\" → \"stacked\"\n" in log and "- Changes: no overlay written yet\n" in log
    assert log.count("| id | status | hypothesis |") == 1


@test
def experiments_concurrent_writers_never_corrupt_the_journal():
    d = experiment_project()
    plan(d)
    procs = [subprocess.Popen([BIN, "--project", d, "--format", "json", "experiments", "create", "--hypothesis", f"h{i}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    outs = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    made = [o["experiment_id"] for o in outs if o["ok"]]
    for o in outs:
        assert o["ok"] or (o["error"]["code"] == "conflict" and "takes the next id" in o["error"]["hint"]), o
    assert made and len(set(made)) == len(made), made
    lines = journal_lines(d)
    assert sorted(x["experiment_id"] for x in lines) == sorted(made) and all(x["rev"] == 1 for x in lines), lines
    log = read_text(d, "EXPERIMENT_LOG.md")
    assert sorted(l.split(" | ")[0][2:] for l in log.splitlines() if l.startswith("| exp-")) == sorted(made)
