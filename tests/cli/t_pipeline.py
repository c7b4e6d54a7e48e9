# Tests of pipeline predict (loaded into run.py's module).


@test
def predict_fits_on_every_labelled_row_and_scores_a_new_file():
    d = titanic_models_project()
    src = read_csv("titanic.csv")
    new = os.path.join(d, "new.csv")
    cols = [c for c in src[0] if c != "survived"]
    with open(new, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in src[:60]:
            w.writerow({c: r[c] for c in cols})
    j = ok(h(d, "pipeline", "predict", data_path=new, output_path="preds.csv"))
    assert j["rows"] == 60 and j["output_path"].endswith("/preds.csv")
    with open(os.path.join(d, "preds.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["row"]) for r in rows] == list(range(1, 61))
    for r in rows:
        avg = (float(r["pred_xgb"]) + float(r["pred_lgb"])) / 2
        assert abs(float(r["pred_ensemble"]) - avg) < 1e-12
    # trained on these very rows, the fit is better than out-of-fold
    acc = sum((float(r["pred_ensemble"]) >= 0.5) == (s["survived"] == "1") for r, s in zip(rows, src)) / 60
    assert acc >= 0.8, acc
    with open(new, "w") as f:
        f.write("gender,age\nmale,30\n")
    e = fails(h(d, "pipeline", "predict", data_path=new), "not_found", in_message="lacks a column")
    assert "did you mean" in e["hint"] or "valid" in e["hint"]
    fails(h(d, "pipeline", "predict", data_path="nope.csv"), "not_found")


@test
def target_profiles_switch_column_task_and_metrics():
    d = titanic_project()
    j = ok(h(d, "configure", "add_target", name="fare_reg", target_column="fare", task="regression"))
    assert j["target"]["metrics"] == ["rmse", "mae", "r_squared"]
    fails(h(d, "configure", "add_target", name="fare_reg", target_column="fare"), "conflict")
    fails(h(d, "configure", "add_target", name="x", target_column="fair"), "not_found", did_you_mean="fare")
    fails(h(d, "configure", "add_target", name="y", target_column="age", task="regression", metrics=["auc"]),
          "invalid_params")
    assert set(ok(h(d, "configure", "list_targets"))["targets"]) == {"fare_reg"}
    ok(h(d, "configure", "set_target", name="fare_reg"))
    cfg = ok(h(d, "configure", "show", detail="full"))["config"]
    assert cfg["data"]["target_column"] == "fare" and cfg["data"]["task"] == "regression"
    assert cfg["backtest"]["primary_metric"] == "rmse"
    fails(h(d, "configure", "set_target", name="fare_rg"), "not_found", did_you_mean="fare_reg")


@test
def stacked_ensemble_never_reads_the_held_out_labels():
    d = titanic_models_project(method="stacked")
    src = read_csv("titanic.csv")
    base = ok(h(d, "pipeline", "run_backtest", detail="full"))
    assert base["ensemble"]["method"] == "stacked" and set(base["ensemble"]["coefficients"]) == {"xgb", "lgb"}
    folds = {int(r["row"]): r["fold"] for r in read_preds(d, base["run_id"])}
    # Plant a column equal to the label in fold 1 only, noise elsewhere, and let the
    # meta-learner see it: trained on the other folds it can only learn that it is noise.
    planted = os.path.join(d, "planted.csv")
    with open(planted, "w") as f:
        f.write("passenger_id,planted\n")
        for i, r in enumerate(src):
            v = r["survived"] if folds[i + 1] == "fold 1/5" else str((i * 7919) % 2)
            f.write(f"{r['passenger_id']},{v}\n")
    ok(h(d, "data", "add", data_path=planted, join_on="passenger_id"))
    ok(h(d, "configure", "exclude_columns", add_columns=["planted"]))
    ok(h(d, "configure", "ensemble", meta_features=["planted"]))
    j = ok(h(d, "pipeline", "run_backtest", detail="full"))
    before = base["ensemble"]["fold_metrics"][0]["brier"]
    after = j["ensemble"]["fold_metrics"][0]["brier"]
    assert after > 0.05 and abs(after - before) < 0.02, (before, after)
    # The post-calibrator is nested: it never sees fold 1's labels either.
    ok(h(d, "configure", "ensemble", calibration="spline"))
    j = ok(h(d, "pipeline", "run_backtest", detail="full"))
    calibrated = j["ensemble"]["fold_metrics"][0]["brier"]
    assert calibrated > 0.05 and abs(calibrated - before) < 0.02, (before, calibrated)
    # The same column through a leaky combiner would have been near perfect on fold 1:
    # a model trained on it does see it, and scores far better than the stack.
    fails(h(d, "configure", "ensemble", meta_features=["survived"]), "blocked")
    fails(h(d, "configure", "ensemble", meta_features=["plantd"]), "not_found", did_you_mean="planted")


@test
def ensemble_methods_and_post_processing():
    d = titanic_models_project(method="weighted")
    j = ok(h(d, "pipeline", "run_backtest"))
    w = j["ensemble"]["weights"]
    assert set(w) == {"xgb", "lgb"} and abs(sum(w.values()) - 1) < 1e-9 and min(w.values()) >= 0, w
    ok(h(d, "configure", "ensemble", weights={"xgb": 3, "lgb": 1}))
    j = ok(h(d, "pipeline", "run_backtest"))
    rows = read_preds(d, j["run_id"])
    r0 = rows[0]
    assert abs(float(r0["pred_ensemble"]) - (0.75 * float(r0["pred_xgb"]) + 0.25 * float(r0["pred_lgb"]))) < 1e-12
    ok(h(d, "configure", "ensemble", method="average", clip_floor=0.2))
    j = ok(h(d, "pipeline", "run_backtest"))
    p = [float(r["pred_ensemble"]) for r in read_preds(d, j["run_id"])]
    assert min(p) >= 0.2 - 1e-12 and max(p) <= 0.8 + 1e-12
    fails(h(d, "configure", "ensemble", weights={"xgbb": 1}), "not_found")
    fails(h(d, "configure", "ensemble", method="stackd"), "invalid_params", rc=2, did_you_mean="stacked")


@test
def diagnostics_answer_why_in_short_texts():
    d = titanic_models_project()
    ok(h(d, "data", "rename", mapping={"passenger_id": "pid"}))
    ok(h(d, "configure", "update_data", key_columns=["pid"]))
    ok(h(d, "models", "add", name="logreg", model_type="logistic_regression"))
    run = ok(h(d, "pipeline", "run_backtest", detail="full"))
    preds = read_preds(d, run["run_id"])
    for action, extra in [("diagnostics", {}), ("calibration_report", {}), ("inspect_predictions", {}),
                          ("model_correlation", {}), ("residual_analysis", {"feature": "age"}),
                          ("explain", {"name": "xgb"})]:
        r = h(d, "pipeline", action, fmt="md", **extra)
        assert r.rc == 0 and 50 < len(r.out) < 2000, (action, len(r.out), r.out)
    j = ok(h(d, "pipeline", "diagnostics"))["diagnostics"]
    fb = [f["brier"] for f in run["ensemble"]["fold_metrics"]]
    m = sum(fb) / len(fb)
    sd = (sum((x - m) ** 2 for x in fb) / (len(fb) - 1)) ** 0.5
    assert abs(j["ensemble"]["brier"]["fold_sd"] - sd) < 1e-12 and abs(j["ensemble"]["brier"]["fold_mean"] - m) < 1e-12
    c = ok(h(d, "pipeline", "calibration_report", n_bins=10))["calibration"]["ensemble"]
    p = [float(r["pred_ensemble"]) for r in preds]
    y = [float(r["survived"]) for r in preds]
    ece = 0
    for b in range(10):
        idx = [i for i, v in enumerate(p) if min(int(v * 10), 9) == b]
        if idx:
            ece += len(idx) / len(p) * abs(sum(y[i] for i in idx) / len(idx) - sum(p[i] for i in idx) / len(idx))
    assert abs(c["ece"] - ece) < 1e-12 and abs(c["ece"] - run["ensemble"]["metrics"]["ece"]) < 1e-9, (c["ece"], ece)
    w = ok(h(d, "pipeline", "inspect_predictions", mode="worst", top_n=3))["rows"]
    errs = sorted((abs(a - b) for a, b in zip(p, y)), reverse=True)
    assert [round(r["error"], 12) for r in w] == [round(e, 12) for e in errs[:3]]
    mc = ok(h(d, "pipeline", "model_correlation"))
    px = [float(r["pred_xgb"]) for r in preds]
    pl = [float(r["pred_lgb"]) for r in preds]
    assert abs(mc["correlation"]["xgb"]["lgb"] - statistics.correlation(px, pl)) < 1e-9
    ra = ok(h(d, "pipeline", "residual_analysis", feature="gender"))["bins"]
    assert sum(b["rows"] for b in ra) == 1317 and {b["bin"] for b in ra} >= {"male", "female"}
    ex = ok(h(d, "pipeline", "explain", name="logreg", top_n=3))
    assert len(ex["inputs"]) == 3 and "coefficient" in ex["inputs"][0]
    assert ok(h(d, "pipeline", "explain", name="xgb", method="shap"))["inputs"][0]["input"] in ("gender", "class", "fare", "age")
    fails(h(d, "pipeline", "residual_analysis", feature="agee"), "not_found", did_you_mean="age")
    fails(h(d, "pipeline", "inspect_predictions", name="xgbb"), "not_found", did_you_mean="xgb")
    fails(h(d, "pipeline", "explain", name="xgbb"), "not_found", did_you_mean="xgb")


@test
def prediction_sanity_blocks_a_model_without_signal():
    d = new_project(target="y")
    f = os.path.join(d, "noise.csv")
    with open(f, "w") as fh:
        # five folds of 40 rows, each with 20 of each class: every training set is balanced
        fh.write("season,x,y\n" + "".join(f"{i % 5},{i % 3},{(i // 5) % 2}\n" for i in range(200)))
    ok(h(d, "data", "add", data_path=f))
    ok(h(d, "configure", "backtest", cv_strategy="loso", fold_column="season"))
    ok(h(d, "models", "add", name="lr", model_type="logistic_regression", params={"C": 1e-6}))
    e = fails(h(d, "pipeline", "run_backtest"), "blocked", in_message="no signal")
    assert "features" in e["hint"]


@test
def calibration_is_nested_and_reported():
    d = titanic_models_project(method="stacked", calibration="isotonic")
    j = ok(h(d, "pipeline", "run_backtest"))
    e = j["ensemble"]
    assert e["calibration"] == "isotonic" and e["folds_calibrated"] == 5, e
    rows = read_preds(d, j["run_id"])
    # isotonic output: a step function, so far fewer distinct values than rows per fold
    for fold in {r["fold"] for r in rows}:
        vals = {r["pred_ensemble"] for r in rows if r["fold"] == fold}
        assert len(vals) < 60, (fold, len(vals))
    ok(h(d, "configure", "ensemble", calibration="spline", pre_calibration={"xgb": "platt"}))
    j = ok(h(d, "pipeline", "run_backtest"))
    assert j["ensemble"]["members_pre_calibrated"] == 1 and j["ensemble"]["folds_calibrated"] == 5
    p = [float(r["pred_ensemble"]) for r in read_preds(d, j["run_id"])]
    assert min(p) >= 0.015 - 1e-12 and max(p) <= 0.985 + 1e-12, (min(p), max(p))
    fails(h(d, "configure", "ensemble", calibration="isotonc"), "invalid_params", rc=2, did_you_mean="isotonic")


@test
def a_raw_column_that_gives_the_answer_away_is_refused():
    d = titanic_models_project()
    src = read_csv("titanic.csv")
    f = os.path.join(d, "leak.csv")
    with open(f, "w") as fh:
        fh.write("passenger_id,boarding_group\n")
        for i, r in enumerate(src):
            fh.write(f"{r['passenger_id']},{float(r['survived']) * 10 + (i % 7) * 0.01}\n")
    ok(h(d, "data", "add", data_path=f, join_on="passenger_id"))
    before = tree_digest(d)
    e = fails(h(d, "pipeline", "run_backtest"), "blocked", in_message="boarding_group")
    assert "input of model" in e["message"], e
    assert tree_digest(d) == before
    ok(h(d, "configure", "exclude_columns", add_columns=["boarding_group"]))
    ok(h(d, "pipeline", "run_backtest"))


@test
def progress_checklist_and_workflow_settings():
    d = titanic_project()
    j = ok(h(d, "pipeline", "progress"))
    phases = {p["phase"]: p["done"] for p in j["phases"]}
    assert phases["data"] and not phases["baseline"] and not phases["model diversity"], phases
    assert "models add" in j["next"] or "features" in j["next"], j["next"]
    ok(h(d, "configure", "workflow", min_model_types=2, require_feature_discovery=False))
    ok(h(d, "models", "add", name="x", model_type="xgboost", params={"n_estimators": 5}))
    ok(h(d, "models", "add", name="l", model_type="logistic_regression"))
    ok(h(d, "pipeline", "run_backtest"))
    j = ok(h(d, "pipeline", "progress"))
    phases = {p["phase"]: p["done"] for p in j["phases"]}
    assert phases["baseline"] and phases["model diversity"] and phases["eda & feature discovery"], phases
    assert j["ready_for_tuning"] is True and "plan" in j["next"], j
    fails(h(d, "configure", "workflow", min_model_types=6), "invalid_params", in_message="1 to 4")
    fails(h(d, "configure", "workflow"), "invalid_params", in_message="nothing to change")


@test
def check_guardrails_reports_pass_warn_fail():
    d = titanic_models_project()
    j = ok(h(d, "configure", "check_guardrails"))
    res = {c["guardrail"]: c["result"] for c in j["checks"]}
    assert res["feature_leakage"] == "PASS" and res["target"] == "PASS" and j["fail"] == 0, j
    assert res["feature_diversity"] == "WARN", "xgb and lgb are both boosted trees on every column"
    assert res["model_complexity"] == "PASS"
    ok(h(d, "models", "update", name="lgb", features=["age", "fare", "class"]))
    ok(h(d, "models", "add", name="deep", model_type="xgboost", features=["age"], params={"n_estimators": 2000, "max_depth": 10}))
    res = {c["guardrail"]: c["result"] for c in ok(h(d, "configure", "check_guardrails"))["checks"]}
    assert res["feature_diversity"] == "PASS" and res["model_complexity"] == "WARN", res
    ok(h(d, "configure", "update_data", time_column="age"))
    j = ok(h(d, "configure", "check_guardrails"))
    assert {c["guardrail"]: c["result"] for c in j["checks"]}["temporal_ordering"] == "WARN"
    src = read_csv("titanic.csv")
    f = os.path.join(d, "leak.csv")
    with open(f, "w") as fh:
        fh.write("passenger_id,lifeboat_flag\n" + "".join(f"{r['passenger_id']},{r['survived']}\n" for r in src))
    ok(h(d, "data", "add", data_path=f, join_on="passenger_id"))
    j = ok(h(d, "configure", "check_guardrails"))
    leak = [c for c in j["checks"] if c["guardrail"] == "feature_leakage"][0]
    assert leak["result"] == "FAIL" and "lifeboat_flag" in leak["detail"] and j["fail"] == 1, leak


@test
def explore_searches_overlays_and_promotes_a_trial():
    d = titanic_models_project()
    space = {"axes": [{"key": "models.xgb.params.max_depth", "type": "integer", "low": 1, "high": 4},
                      {"key": "models.lgb.params.num_leaves", "type": "integer", "low": 2, "high": 16}]}
    before = tree_digest(d)
    fails(h(d, "experiments", "explore", search_space={"axes": [{"key": "models.xgb.params.max_depth", "type": "integr",
                                                                 "low": 1, "high": 4}]}), "invalid_params",
          did_you_mean="integer")
    assert tree_digest(d) == before
    j = ok(h(d, "experiments", "explore", search_space=space, budget=6))
    assert j["exploration_id"] == "expl-001" and len(j["trials"]) == 6, j
    briers = {t["trial"]: t["metric"] for t in j["trials"]}
    assert briers[j["best_trial"]] == min(briers.values())
    assert any("model families" in w for w in j.get("warnings", [])), "the phase gate warns"
    for f in ["study.json", "trials.json", "best_overlay.yaml"]:
        assert os.path.isfile(os.path.join(d, "experiments", "expl-001", f)), f
    e = fails(h(d, "experiments", "promote_trial", experiment_id="expl-001"), "blocked")
    assert "plan" in e["hint"], e
    ok(h(d, "notebook", "write", type="plan", content="tune depth and leaves"))
    p = ok(h(d, "experiments", "promote_trial", experiment_id="expl-001"))
    assert p["experiment_id"] == "exp-001"
    assert p["experiment"]["overlay"]["models"]["xgb"]["params"]["max_depth"] == j["best_params"]["models.xgb.params.max_depth"]
    fails(h(d, "experiments", "promote_trial", experiment_id="expl-009"), "not_found")
    j2 = ok(h(d, "experiments", "explore", search_space=space, budget=2, warm_start_from="expl-001"))
    assert j2["exploration_id"] == "expl-002"
    ok(h(d, "configure", "workflow", enforce_phases=True))
    fails(h(d, "experiments", "explore", search_space=space, budget=2), "blocked", in_message="model families")
