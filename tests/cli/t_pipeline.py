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
