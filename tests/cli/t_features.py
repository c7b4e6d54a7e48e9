# t_features.py — end-to-end tests of the `features` tool (loaded into run.py's module:
# h, ok, fails, tree_digest, new_project, titanic_project, read_csv, DATA are in scope).
# Numbers are checked against values computed here from the CSV files.

import math as _m

FIXTURE_FEATURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../fixtures/features/features_ref.json")


def _num(v):
    return None if v in ("", None) else float(v)


def _pearson(xs, ys):
    pairs = [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None]
    n = len(pairs)
    mx = sum(p[0] for p in pairs) / n
    my = sum(p[1] for p in pairs) / n
    sxy = sum((x - mx) * (y - my) for x, y in pairs)
    sxx = sum((x - mx) ** 2 for x, _ in pairs)
    syy = sum((y - my) ** 2 for _, y in pairs)
    return sxy / _m.sqrt(sxx * syy)


def _titanic_cols(*names):
    rows = read_csv("titanic.csv")
    return [[_num(r[n]) for r in rows] for n in names]


def _write(d, name, text):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def _column(d, name):
    return ok(h(d, "data", "inspect", column=name))["column"]


@test
def features_add_computes_describes_and_caches():
    d = titanic_project()
    j = ok(h(d, "features", "add", name="family_size", formula="sibsp + parch + 1", category="family",
             description="people travelling together"))
    sib, par, y = _titanic_cols("sibsp", "parch", "survived")
    fam = [None if a is None or b is None else a + b + 1 for a, b in zip(sib, par)]
    out = j["outputs"][0]
    assert out["column"] == "family_size" and out["type"] == "int", out
    assert abs(out["correlation"] - _pearson(fam, y)) < 1e-12, (out, _pearson(fam, y))
    assert abs(out["null_rate"] - 10 / 1317) < 1e-12 and out["min"] == 1 and out["max"] == 11, out
    known = [v for v in fam if v is not None]
    assert abs(out["mean"] - sum(known) / len(known)) < 1e-12
    assert j["feature"] == {"formula": "sibsp + parch + 1", "category": "family",
                            "description": "people travelling together", "type": "instance"}, j["feature"]
    col = _column(d, "family_size")
    assert col["nulls"] == 10 and col["max"] == 11, col
    with open(os.path.join(d, "config/features.yaml")) as f:
        assert "family_size:" in f.read()
    cache = os.listdir(os.path.join(d, ".harness/cache/features"))
    assert len(cache) == 1 and cache[0].startswith("family_size-") and cache[0].endswith(".hfr"), cache
    r = h(d, "features", "add", name="fam_twice", formula="@family_size * 2", fmt="md")
    assert r.rc == 0 and "## Created: fam_twice" in r.out and "redundant with feature 'family_size'" in r.out, r.out


@test
def features_add_refusals_leave_the_project_byte_identical():
    d = titanic_project()
    ok(h(d, "features", "add", name="family_size", formula="sibsp + parch + 1"))
    before = tree_digest(d)
    fails(h(d, "features", "add", name="family_size", formula="sibsp"), "conflict", in_message="exists already")
    e = fails(h(d, "features", "add", name="age", formula="fare * 2"), "conflict", in_message="already has a column 'age'")
    assert "--column age" in e["hint"], e
    fails(h(d, "features", "add", name="fare_x", formula="Fare * 2"), "not_found", did_you_mean="fare")
    fails(h(d, "features", "add", name="f2", formula="@famly_size + 1"), "not_found", did_you_mean="family_size")
    fails(h(d, "features", "add", name="f3", formula="fare +"), "invalid_params", in_message="at 1:")
    fails(h(d, "features", "add", name="f4", formula="fare", column="age"), "invalid_params",
          in_message="exactly one of formula or column")
    fails(h(d, "features", "add", name="f5", condition="fare + 1"), "invalid_params", in_message="not true/false")
    fails(h(d, "features", "add", name="2bad", formula="fare"), "invalid_params", in_message="must start with a letter")
    fails(h(d, "features", "add", name="f6", formula="fare", type="pairwse"), "invalid_params", rc=2,
          did_you_mean="pairwise")
    fails(h(d, "features", "add", name="f7", formula="log(fare)", pairwise_mode="diff"), "invalid_params",
          in_message="entity features only")
    fails(h(d, "features", "add", formula="fare"), "invalid_params", rc=2, in_message="'name' is required")
    fails(h(d, "features", "add", name="f8", source="ratings"), "not_found", in_message="no source named 'ratings'")
    e = fails(h(d, "features", "update", name="family_sise", formula="sibsp"), "not_found", did_you_mean="family_size")
    assert tree_digest(d) == before, "a refused add or update must change nothing"


@test
def features_leakage_guardrails_refuse_without_override():
    d = titanic_project()
    ok(h(d, "features", "add", name="fare_ok", formula="fare * 1"))
    before = tree_digest(d)
    e = fails(h(d, "features", "add", name="leak", formula="survived * 2 + age"), "blocked",
              in_message="feature 'leak' reads the target 'survived'")
    assert "cannot be overridden" in e["hint"]
    fails(h(d, "features", "add", name="leak2", column="survived"), "blocked", in_message="reads the target")
    ok(h(d, "configure", "set_denylist", add_columns=["ticketno"]))
    before = tree_digest(d)
    e = fails(h(d, "features", "add", name="tk", formula="ticketno % 7"), "blocked",
              in_message="reads 'ticketno', which is on the leakage denylist")
    assert "set_denylist" in e["hint"]
    assert tree_digest(d) == before
    # The parameter that would override other guardrails has no effect here: it is not even accepted.
    fails(h(d, "features", "add", name="leak", formula="survived", human_override=True), "invalid_params", rc=2)

    # A column that copies the outcome, numerically (|r| >= 0.98) or as a lookup table of labels.
    rows = read_csv("titanic.csv")
    lines = ["passenger_id,fare,code,deck,survived"]
    for i, r in enumerate(rows):
        s = int(r["survived"])
        lines.append(f"{r['passenger_id']},{r['fare']},{s * 10 + (i % 5) * 0.1},{'AB'[s]},{s}")
    path = _write(tempfile.mkdtemp(), "leaky.csv", "\n".join(lines) + "\n")
    d = new_project()
    ok(h(d, "data", "add", data_path=path))
    before = tree_digest(d)
    e = fails(h(d, "features", "add", name="code2", formula="code + 1"), "blocked",
              in_message="correlates with the target 'survived' at r = 0.99")
    e = fails(h(d, "features", "add", name="deck2", formula="lower(deck)"), "blocked",
              in_message="predicts the target 'survived' perfectly: each of its 2 values maps to a single class")
    assert tree_digest(d) == before
    j = ok(h(d, "features", "add", name="fare_log", formula="log(fare)"))
    assert j["outputs"][0]["column"] == "fare_log"


@test
def features_notices_for_outcome_names_and_columnwise_functions():
    d = titanic_project()
    j = ok(h(d, "features", "add", name="future_fare", formula="fare * 1.5"))
    assert any("'future_fare' announces the outcome (future_*)" in w for w in j["warnings"]), j["warnings"]
    j = ok(h(d, "features", "add", name="fare_z", formula="zscore(fare)"))
    assert any("zscore()" in w and "every fold" in w and "normalize" in w for w in j["warnings"]), j["warnings"]
    j = ok(h(d, "features", "add", name="age_sq", formula="age ** 2"))
    assert not any("announces" in w or "every fold" in w for w in j.get("warnings", [])), j


@test
def features_update_recomputes_only_dependants():
    d = titanic_project()
    ok(h(d, "features", "add", name="a", formula="sibsp + 1"))
    ok(h(d, "features", "add", name="b", formula="@a * 2"))
    ok(h(d, "features", "add", name="c", formula="parch * 3"))
    ok(h(d, "features", "add", name="d", formula="@b + @c"))
    j = ok(h(d, "features", "update", name="a", formula="sibsp + 10"))
    assert sorted(j["recomputed"]) == ["b", "d"], j["recomputed"]
    sib, par = _titanic_cols("sibsp", "parch")
    want = [None if s is None or p is None else 2 * (s + 10) + 3 * p for s, p in zip(sib, par)]
    known = [v for v in want if v is not None]
    col = _column(d, "d")
    assert abs(col["mean"] - sum(known) / len(known)) < 1e-9 and col["max"] == max(known), (col, max(known))
    j = ok(h(d, "features", "update", name="c", description="parch, tripled"))
    assert j["recomputed"] == [], "a description changes nothing computed"
    files = os.listdir(os.path.join(d, ".harness/cache/features"))
    assert sum(f.startswith("a-") for f in files) == 2 and sum(f.startswith("c-") for f in files) == 1, files
    # Disabling keeps the definition but the dependants refuse to read it.
    e = fails(h(d, "features", "update", name="c", enabled=False), "invalid_params", in_message="disabled feature 'c'")
    assert "disable 'd' too" in e["hint"]


@test
def features_add_batch_orders_references_and_reports_each_item():
    d = titanic_project()
    items = [
        {"name": "c", "formula": "@b + 1"},
        {"name": "b", "formula": "@a * 2", "category": "derived"},
        {"name": "a", "formula": "sibsp + 1"},
        {"name": "bad", "formula": "@nope + 1"},
        {"name": "after_bad", "formula": "@bad * 2"},
        {"name": "cyc1", "formula": "@cyc2 + 1"},
        {"name": "cyc2", "formula": "@cyc1 + 1"},
        {"name": "leaky", "formula": "survived + 1"},
        "not an object",
    ]
    j = ok(h(d, "features", "add_batch", features=items))
    res = {r.get("name") or r["item"]: r for r in j["results"]}
    assert j["added"] == 3 and all(res[n]["ok"] for n in "abc"), j["results"]
    assert res["bad"]["error"]["code"] == "not_found", res["bad"]
    assert "which failed" in res["after_bad"]["error"]["message"], res["after_bad"]
    assert "cycle: cyc1 → cyc2 → cyc1" in res["cyc1"]["error"]["message"], res["cyc1"]
    assert res["leaky"]["error"]["code"] == "blocked", res["leaky"]
    assert res[9]["ok"] is False and "not an object" in res[9]["error"]["message"]
    assert [r["item"] for r in j["results"]] == list(range(1, 10)), "results in the order given"
    sib, = _titanic_cols("sibsp")
    known = [2 * (s + 1) + 1 for s in sib if s is not None]
    assert abs(_column(d, "c")["mean"] - sum(known) / len(known)) < 1e-9
    listed = ok(h(d, "features", "list"))
    assert [f["name"] for f in listed["features"]] == ["a", "c", "b"], listed["features"]  # by category, then order
    assert listed["categories"] == {"general": 2, "derived": 1}
    # atomic: one bad item and nothing lands.
    before = tree_digest(d)
    e = fails(h(d, "features", "add_batch", atomic=True,
                features=[{"name": "x1", "formula": "fare * 2"}, {"name": "x2", "formula": "fair * 2"}]),
              "invalid_params", in_message="nothing changed (atomic); item 2 ('x2')")
    assert "fare" in e["hint"], e
    assert tree_digest(d) == before
    fails(h(d, "features", "add_batch", features=[]), "invalid_params", in_message="non-empty list")


@test
def features_list_by_category():
    d = titanic_project()
    ok(h(d, "features", "add_batch", features=[
        {"name": "fam", "formula": "sibsp + parch", "category": "family"},
        {"name": "alone", "condition": "sibsp + parch == 0", "category": "family"},
        {"name": "fare_log", "formula": "log(fare)"}]))
    j = ok(h(d, "features", "list"))
    assert j["categories"] == {"family": 2, "general": 1}, j["categories"]
    alone = [f for f in j["features"] if f["name"] == "alone"][0]
    assert alone["type"] == "regime" and alone["outputs"] == ["alone"], alone
    j = ok(h(d, "features", "list", category="family"))
    assert sorted(f["name"] for f in j["features"]) == ["alone", "fam"]
    r = h(d, "features", "list", fmt="md")
    assert "### family" in r.out and "| alone | regime | 1 if sibsp + parch == 0 |" in r.out, r.out
    fails(h(d, "features", "list", category="famly"), "not_found", did_you_mean="family")
    j = ok(h(new_project(), "features", "list"))
    assert j["features"] == []


@test
def features_remove_refuses_while_used_and_drops_the_column():
    d = titanic_project()
    ok(h(d, "features", "add", name="fam", formula="sibsp + parch + 1"))
    ok(h(d, "features", "add", name="fam2", formula="@fam * 2"))
    ok(h(d, "models", "add", name="m1", model_type="xgboost", features=["fam2", "fare"]))
    before = tree_digest(d)
    e = fails(h(d, "features", "remove", name="fam"), "conflict", in_message="used by feature 'fam2'")
    e = fails(h(d, "features", "remove", name="fam2"), "conflict", in_message="used by model 'm1'")
    assert "--remove_features fam2" in e["hint"], e
    fails(h(d, "features", "remove", name="fam22"), "not_found", did_you_mean="fam2")
    assert tree_digest(d) == before
    ok(h(d, "models", "update", name="m1", remove_features=["fam2"]))
    j = ok(h(d, "features", "remove", name="fam2"))
    assert j["dropped_columns"] == ["fam2"]
    fails(h(d, "data", "inspect", column="fam2"), "not_found")
    ok(h(d, "features", "remove", name="fam"))
    with open(os.path.join(d, "config/features.yaml")) as f:
        assert "fam" not in f.read()


@test
def features_a_broken_definition_can_still_be_removed():
    d = titanic_project()
    ok(h(d, "features", "add", name="fam", formula="sibsp + parch"))
    with open(os.path.join(d, "config/features.yaml"), "a") as f:
        f.write("  broken:\n    formla: fare * 2\n")
    e = fails(h(d, "features", "list"), "invalid_params", in_message="feature 'broken'")
    assert e["did_you_mean"] == "formula", e
    j = ok(h(d, "features", "remove", name="broken"))
    assert any("without checking" in w for w in j["warnings"]), j
    assert [f["name"] for f in ok(h(d, "features", "list"))["features"]] == ["fam"]


@test
def features_test_transformations_ranks_by_correlation():
    d = titanic_project()
    j = ok(h(d, "features", "test_transformations", features=["fare", "age"]))
    c = j["candidates"]
    assert len(c) == 6 * 2 + 2, len(c)
    rs = [abs(x["correlation"]) for x in c]
    assert rs == sorted(rs, reverse=True), "ranked by |r|"
    fare, age, y = _titanic_cols("fare", "age", "survived")
    by = {x["formula"]: x for x in c}
    logf = [None if v is None else _m.log(abs(v) + 1) for v in fare]
    assert abs(by["log(fare)"]["correlation"] - _pearson(logf, y)) < 1e-12
    prod = [None if a is None or b is None else a * b for a, b in zip(fare, age)]
    assert abs(by["fare * age"]["correlation"] - _pearson(prod, y)) < 1e-12
    assert abs(by["fare"]["gain"]) < 1e-15 and abs(by["log(fare)"]["gain"] - (abs(_pearson(logf, y)) - abs(_pearson(fare, y)))) < 1e-12
    assert "column-wise" in by["rank_pct(fare)"]["note"]
    j = ok(h(d, "features", "test_transformations", features=["fare"], test_interactions=False))
    assert len(j["candidates"]) == 6
    fails(h(d, "features", "test_transformations", features=["fair"]), "not_found", did_you_mean="fare")
    fails(h(d, "features", "test_transformations", features=["gender"]), "invalid_params", in_message="not numeric")
    fails(h(d, "features", "test_transformations"), "invalid_params", rc=2, in_message="'features' is required")


@test
def features_discover_by_correlation_mutual_info_and_xgboost():
    d = titanic_project()
    ok(h(d, "configure", "exclude_columns", add_columns=["name", "passenger_id"]))
    j = ok(h(d, "features", "discover", top_n=5))
    rank = j["ranking"]
    assert len(rank) == 5 and j["method"] == "correlation"
    assert [x["score"] for x in rank] == sorted((x["score"] for x in rank), reverse=True)
    fare, y = _titanic_cols("fare", "survived")
    fr = [x for x in rank if x["column"] == "fare"][0]
    assert abs(fr["correlation"] - _pearson(fare, y)) < 1e-12 and abs(fr["score"] - abs(fr["correlation"])) < 1e-15
    assert "name" not in [x["column"] for x in ok(h(d, "features", "discover", top_n=50))["ranking"]], "excluded"
    with open(FIXTURE_FEATURES) as f:
        ref = {c["column"]: c["mi"] for c in json.load(f)["titanic"]}
    j = ok(h(d, "features", "discover", method="mutual_info", top_n=50))
    got = {x["column"]: x["mutual_info"] for x in j["ranking"]}
    for col, mi in ref.items():
        assert abs(got[col] - mi) < 1e-12, (col, got[col], mi)
    assert j["ranking"][0]["column"] == "gender", j["ranking"][:3]
    a = ok(h(d, "features", "discover", method="xgboost", top_n=3))
    b = ok(h(d, "features", "discover", method="xgboost", top_n=3))
    assert a["ranking"] == b["ranking"], "same data, same ranking"
    assert a["ranking"][0]["column"] == "gender" and a["ranking"][0]["gain"] > 0, a["ranking"]
    fails(h(d, "features", "discover", method="shap"), "invalid_params", rc=2)
    fails(h(d, "features", "discover", top_n=0), "invalid_params", in_message="top_n")


@test
def features_diversity_scores_feature_overlap():
    d = titanic_project()
    j = ok(h(d, "features", "diversity"))
    assert j["score"] is None
    ok(h(d, "features", "add", name="fam", formula="sibsp + parch + 1"))
    ok(h(d, "features", "add", name="unused", formula="fare * 2"))
    ok(h(d, "models", "add", name="a", model_type="xgboost", features=["fare", "age", "fam"]))
    ok(h(d, "models", "add", name="b", model_type="xgboost", features=["fare", "class"]))
    ok(h(d, "models", "add", name="c", model_type="xgboost", features=["fare", "age", "fam", "sibsp"]))
    j = ok(h(d, "features", "diversity"))
    jac = j["jaccard"]
    assert abs(jac["a"]["b"] - 1 / 4) < 1e-12 and abs(jac["a"]["c"] - 3 / 4) < 1e-12 and abs(jac["b"]["c"] - 1 / 5) < 1e-12
    assert abs(j["score"] - (1 - (1 / 4 + 3 / 4 + 1 / 5) / 3)) < 1e-12, j["score"]
    assert j["redundant_pairs"] == [], "0.75 is below the 0.8 bar"
    assert any("'unused'" in s for s in j["suggestions"]), j["suggestions"]
    ok(h(d, "models", "update", name="b", features=["fare", "age", "fam"]))
    j = ok(h(d, "features", "diversity"))
    assert {(p["a"], p["b"]) for p in j["redundant_pairs"]} == {("a", "b")}, j["redundant_pairs"]
    assert any("below 0.5" in s for s in j["suggestions"]), j


@test
def features_auto_search_proposes_without_adding():
    d = titanic_project()
    before = tree_digest(d)
    j = ok(h(d, "features", "auto_search", features=["fare", "age"], top_n=20))
    kinds = {c["kind"] for c in j["candidates"]}
    assert kinds == {"product", "ratio", "difference"}, kinds
    assert any("time order" in w for w in j["warnings"]), j
    assert tree_digest(d) == before, "auto_search adds nothing"
    fare, age, y = _titanic_cols("fare", "age", "survived")
    diff = [None if a is None or b is None else a - b for a, b in zip(fare, age)]
    got = [c for c in j["candidates"] if c["formula"] == "fare - age"][0]
    assert abs(got["correlation"] - _pearson(diff, y)) < 1e-12
    # With a time order, lags and rolling means (of earlier rows only) are scored too.
    ok(h(d, "configure", "update_data", time_column="passenger_id"))
    j = ok(h(d, "features", "auto_search", features=["fare"], search_types=["lags", "rolling"], top_n=5))
    by = {c["kind"]: c for c in j["candidates"]}
    lag = [None] + fare[:-1]  # passenger_id is the row order of the file
    assert abs(by["lag"]["correlation"] - _pearson(lag, y)) < 1e-12, by["lag"]
    roll = []
    for i in range(len(fare)):
        w = [v for v in fare[max(0, i - 2):i + 1] if v is not None]
        roll.append(sum(w) / len(w) if w else None)
    assert abs(by["rolling"]["correlation"] - _pearson(roll, y)) < 1e-12
    assert '"op": "lag"' in by["lag"]["formula"] and "add_view" in by["lag"]["note"]
    fails(h(d, "features", "auto_search", search_types=["lag"]), "invalid_params", did_you_mean="lags")
    j = ok(h(d, "features", "auto_search", search_types=["interactions"], top_n=3))
    assert len(j["candidates"]) == 3 and j["searched"] > 3


@test
def features_prune_flags_weak_and_redundant_and_keeps_used():
    d = titanic_project()
    ok(h(d, "features", "add_batch", features=[
        {"name": "is_male", "condition": "gender == 'male'"},
        {"name": "odd_id", "formula": "passenger_id % 2"},
        {"name": "fare2", "formula": "fare * 2"},
        {"name": "fare3", "formula": "fare * 3 + 1"},
        {"name": "fam", "formula": "sibsp + parch"}]))
    ok(h(d, "models", "add", name="m", model_type="xgboost", features=["odd_id", "fare"]))
    ids, y = _titanic_cols("passenger_id", "survived")
    r_odd = abs(_pearson([v % 2 for v in ids], y))
    threshold = r_odd + 1e-9
    before = tree_digest(d)
    j = ok(h(d, "features", "prune", threshold=threshold))
    cands = {c["name"]: c["reason"] for c in j["candidates"]}
    assert set(cands) == {"odd_id", "fare3"}, cands  # fam (|r| 0.026) stays above the bar
    assert cands["odd_id"].startswith("weak: score 0.0213"), cands
    assert cands["fare3"].startswith("redundant with 'fare2' (r = 1.000)"), cands
    assert j["dry_run"] is True and tree_digest(d) == before, "dry run by default"
    j = ok(h(d, "features", "prune", threshold=threshold, dry_run=False))
    assert "odd_id" in [k["name"] for k in j["kept"]] and "used by model 'm'" in j["kept"][0]["reason"], j
    assert j["removed"] == ["fare3"], j
    left = {f["name"] for f in ok(h(d, "features", "list"))["features"]}
    assert left == {"is_male", "odd_id", "fare2", "fam"}, left
    fails(h(d, "data", "inspect", column="fare3"), "not_found")
    j = ok(h(d, "features", "prune", method="mutual_info", threshold=0.0))
    assert j["candidates"] == [], j["candidates"]
    fails(h(d, "features", "prune", threshold=-1), "invalid_params", in_message="threshold")


@test
def features_entity_diff_and_ratio_from_a_source():
    t = tempfile.mkdtemp()
    games = _write(t, "games.csv", "home,away,season,won\nA,B,1,1\nB,A,1,0\nA,C,2,1\nC,D,2,0\nA,B,2,1\n"
                                   "B,C,1,0\nC,A,1,1\nD,A,2,0\nB,D,2,1\nD,C,1,0\n")
    ratings = _write(t, "ratings.csv", "team,season,elo\nA,1,1500\nB,1,1400\nA,2,1600\nB,2,1380\nC,2,1450\n"
                                       "C,1,1420\nD,1,1300\nD,2,1350\n")
    d = new_project(target="won")
    ok(h(d, "data", "add", data_path=games))
    ok(h(d, "data", "add_source", data_path=ratings, name="ratings"))
    before = tree_digest(d)
    fails(h(d, "features", "add", name="elo", source="ratngs", entity_column="team", entity_a_column="home",
            entity_b_column="away", period_column="season"), "not_found", did_you_mean="ratings")
    fails(h(d, "features", "add", name="elo", source="ratings", entity_column="teem", entity_a_column="home",
            entity_b_column="away", period_column="season"), "not_found", did_you_mean="team")
    assert tree_digest(d) == before
    j = ok(h(d, "features", "add", name="elo", source="ratings", entity_column="team", entity_a_column="home",
             entity_b_column="away", period_column="season", pairwise_mode="both"))
    assert [o["column"] for o in j["outputs"]] == ["diff_elo", "ratio_elo"], j["outputs"]
    elo = {(r["team"], r["season"]): float(r["elo"]) for r in csv.DictReader(open(ratings))}
    rows = list(csv.DictReader(open(games)))
    diffs = [elo[(r["home"], r["season"])] - elo[(r["away"], r["season"])] for r in rows]
    ratios = [elo[(r["home"], r["season"])] / elo[(r["away"], r["season"])] for r in rows]
    won = [float(r["won"]) for r in rows]
    out = {o["column"]: o for o in j["outputs"]}
    assert out["diff_elo"]["min"] == min(diffs) and out["diff_elo"]["max"] == max(diffs)
    assert abs(out["diff_elo"]["mean"] - sum(diffs) / len(diffs)) < 1e-9
    assert abs(out["ratio_elo"]["mean"] - sum(ratios) / len(ratios)) < 1e-12
    assert abs(out["diff_elo"]["correlation"] - _pearson(diffs, won)) < 1e-12
    j = ok(h(d, "features", "add", name="edge", formula="@elo / 100", type="pairwise"))
    assert abs(j["outputs"][0]["mean"] - sum(diffs) / len(diffs) / 100) < 1e-12
    listed = ok(h(d, "features", "list"))["features"]
    assert [f["type"] for f in listed] == ["entity", "pairwise"]
    # A change that would take away a column a model reads is refused, and changes nothing.
    ok(h(d, "models", "add", name="m", model_type="xgboost", features=["diff_elo"]))
    before = tree_digest(d)
    e = fails(h(d, "features", "update", name="elo", pairwise_mode="ratio"), "conflict",
              in_message="model 'm' reads 'diff_elo'")
    assert "--remove_features diff_elo" in e["hint"]
    fails(h(d, "features", "update", name="elo", enabled=False), "invalid_params",
          in_message="feature 'edge' reads the disabled feature 'elo'")
    assert tree_digest(d) == before
    ok(h(d, "models", "remove", name="m", purge=True))
    # A new pairwise_mode drops the column the old one wrote; @elo now means ratio_elo.
    j = ok(h(d, "features", "update", name="elo", pairwise_mode="ratio"))
    assert [o["column"] for o in j["outputs"]] == ["ratio_elo"] and j["recomputed"] == ["edge"], j
    fails(h(d, "data", "inspect", column="diff_elo"), "not_found")
    assert abs(_column(d, "edge")["mean"] - sum(ratios) / len(ratios) / 100) < 1e-12


@test
def backtest_refreshes_and_uses_declared_features():
    d = titanic_project()
    ok(h(d, "configure", "exclude_columns", add_columns=["name", "ticketno", "passenger_id"]))
    ok(h(d, "features", "add", name="family_size", formula="sibsp + parch + 1"))
    ok(h(d, "models", "add", name="fam_only", model_type="xgboost", features=["family_size"],
         params={"n_estimators": 20, "max_depth": 2}))
    ok(h(d, "models", "add", name="raw", model_type="xgboost", features=["sibsp", "parch"],
         params={"n_estimators": 20, "max_depth": 2}))
    j = ok(h(d, "pipeline", "run_backtest"))
    assert "features_refreshed" not in j, "nothing was stale"
    m = {x["name"]: x for x in j["models"]}
    assert m["fam_only"]["ok"] and m["fam_only"]["inputs"] == 1, m["fam_only"]
    rows = read_preds(d, j["run_id"])
    sib, par, y = _titanic_cols("sibsp", "parch", "survived")
    # A model of one column predicts the same for equal family sizes: the column reached the model.
    by_size = {}
    for r, s, p in zip(rows, sib, par):
        key = None if s is None or p is None else s + p + 1
        by_size.setdefault(key, set()).add((r["fold"], r["pred_fam_only"]))
    assert all(len({pred for fold, pred in v if fold == f}) == 1 for v in by_size.values() for f in {x for x, _ in v})
    assert m["fam_only"]["metrics"]["auc_roc"] > 0.5
    # Data changes: the next backtest recomputes the stale feature first, and refits.
    ok(h(d, "data", "fill_nulls", column="sibsp", strategy="zero"))
    ok(h(d, "data", "fill_nulls", column="parch", strategy="zero"))
    j = ok(h(d, "pipeline", "run_backtest"))
    assert j["features_refreshed"] == {"computed": ["family_size"], "cached": 0, "changed": True}, j.get("features_refreshed")
    m = {x["name"]: x for x in j["models"]}
    assert m["fam_only"]["fits"] == 5 and m["raw"]["fits"] == 5, m
    assert _column(d, "family_size")["nulls"] == 0, "the refreshed table was written"
    j = ok(h(d, "pipeline", "run_backtest"))
    assert "features_refreshed" not in j and j["fits"] == 0, "all fresh, all cached"
    # A feature that would leak stops the run before anything is fitted.
    ok(h(d, "configure", "update_data", target_column="parch"))
    before = tree_digest(d)
    fails(h(d, "pipeline", "run_backtest"), "blocked", in_message="feature 'family_size' reads the target 'parch'")
    assert tree_digest(d) == before


@test
def features_help_lists_every_action():
    p = subprocess.run([BIN, "features", "--help"], capture_output=True, text=True)
    for a in ["add", "update", "add_batch", "list", "remove", "test_transformations", "discover", "diversity",
              "auto_search", "prune"]:
        assert "harness features " + a + " " in p.stdout, a
    assert "--pairwise_mode" in p.stdout and "diff|ratio|both|none" in p.stdout
