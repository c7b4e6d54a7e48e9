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
