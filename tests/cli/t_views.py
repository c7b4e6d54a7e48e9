# CLI tests of the view actions and the formula edits of `data` (loaded into run.py:
# uses h, ok, fails, tree_digest, new_project, titanic_project, read_csv, DATA).


def views_dir(d):
    return os.path.join(d, ".harness", "cache", "views")


def cached(d):
    p = views_dir(d)
    return sorted(os.listdir(p)) if os.path.isdir(p) else []


ADULTS = [{"op": "filter", "expr": "age >= 18"},
          {"op": "derive", "columns": {"family": "sibsp + parch"}},
          {"op": "rolling", "keys": "class", "window": 5, "aggs": {"surv5": "survived:mean"}}]


def num(v):
    return None if v in ("", None) else float(v)


@test
def views_add_preview_list_dag_and_set_features_view():
    d = titanic_project()
    j = ok(h(d, "data", "add_view", name="adults", source="titanic", steps=ADULTS, description="grown-ups"))
    names = [c["name"] for c in j["columns"]]
    assert names[-2:] == ["family", "surv5"] and j["steps"] == 3, j
    assert any("only sees earlier rows" in w for w in j["warnings"]), j["warnings"]
    assert cached(d) == [], "add_view checks without computing the view"
    rows = [r for r in read_csv("titanic.csv") if num(r["age"]) is not None and num(r["age"]) >= 18]
    j = ok(h(d, "data", "preview_view", name="adults", n_rows=3))
    assert j["rows"] == len(rows) and j["computed"] == ["adults"] and j["from_cache"] == [], j
    first = j["preview"][0]
    assert first["passenger_id"] == int(rows[0]["passenger_id"]) and first["surv5"] is None, first
    sp = num(rows[0]["sibsp"]), num(rows[0]["parch"])
    assert first["family"] == (None if None in sp else sp[0] + sp[1]), first
    assert len(cached(d)) == 1 and cached(d)[0].startswith("adults-")
    # unchanged: loaded from the cache, not recomputed
    j = ok(h(d, "data", "preview_view", name="adults"))
    assert j["computed"] == [] and j["from_cache"] == ["adults"] and len(j["preview"]) == 5, j
    r = h(d, "data", "preview_view", name="adults", fmt="md")
    assert "(from cache)" in r.out and "| passenger_id |" in r.out, r.out
    ok(h(d, "data", "add_view", name="by_class", source="adults",
         steps=[{"op": "group_by", "keys": "class", "aggs": {"fare": ["mean", "count"]}}]))
    j = ok(h(d, "data", "list_views"))
    assert [v["name"] for v in j["views"]] == ["adults", "by_class"] and j["views"][0]["description"] == "grown-ups"
    j = ok(h(d, "data", "view_dag"))
    assert j["order"] == ["adults", "by_class"], j
    assert {"from": "titanic", "to": "adults"} in j["edges"] and {"from": "adults", "to": "by_class"} in j["edges"]
    r = h(d, "data", "view_dag", fmt="md")
    assert "by_class ← adults  [group_by]" in r.out, r.out
    j = ok(h(d, "data", "set_features_view", name="adults"))
    assert j["rows"] == len(rows) and j["from_cache"] == ["adults"], j
    j = ok(h(d, "configure", "show", section="data"))
    assert j["config"]["features_view"] == "adults", j
    j = ok(h(d, "data", "inspect", column="surv5"))
    assert j["column"]["rows"] == len(rows), j
    j = ok(h(d, "data", "list_views"))
    assert j["features_view"] == "adults" and j["views"][0]["features_view"] is True


@test
def views_rolling_of_the_target_is_shifted_end_to_end():
    d = new_project(target="result")
    ok(h(d, "data", "add_source", data_path=os.path.join(DATA, "icehockey.csv"), name="games"))
    ok(h(d, "data", "add_view", name="form", source="games", steps=[
        {"op": "rolling", "keys": "visitor", "order_by": "date", "window": 3,
         "aggs": {"form3": "result:mean", "goals3": "v_goals:mean"}}]))
    ok(h(d, "data", "set_features_view", name="form"))
    j = ok(h(d, "data", "preview_view", name="form", n_rows=100))
    games = read_csv("icehockey.csv")
    seen = {}
    expected = []
    order = sorted(range(len(games)), key=lambda i: (games[i]["date"], i))
    prev_by_row = {}
    for i in order:
        g = games[i]
        past = seen.setdefault(g["visitor"], [])
        prev_by_row[i] = (list(past[-3:]), None)
        past.append((float(g["result"]), float(g["v_goals"])))
    for i, row in enumerate(j["preview"]):
        prev = prev_by_row[i][0]
        want = sum(r for r, _ in prev) / len(prev) if prev else None
        if want is None:
            assert row["form3"] is None, (i, row)
        else:
            assert abs(row["form3"] - want) < 1e-12, (i, row, want)
        # a feature column keeps the current row in its window
        goals = [gl for _, gl in prev][-2:] + [float(games[i]["v_goals"])]
        assert abs(row["goals3"] - sum(goals) / len(goals)) < 1e-12, (i, row)


@test
def views_errors_name_the_problem_with_hints_and_change_nothing():
    d = titanic_project()
    ok(h(d, "data", "add_view", name="adults", source="titanic", steps=ADULTS))
    ok(h(d, "data", "add_view", name="top", source="adults", steps=[{"op": "select", "columns": ["family", "fare"]}]))
    ok(h(d, "data", "set_features_view", name="top"))
    before = tree_digest(d)
    fails(h(d, "data", "add_view", name="x", source="titanc"), "not_found", did_you_mean="titanic")
    e = fails(h(d, "data", "add_view", name="x", source="titanic", steps=[{"op": "filtr", "expr": "age > 1"}]),
              "invalid_params", in_message="unknown op 'filtr'", did_you_mean="filter")
    assert "rolling" in e["valid_values"], e
    fails(h(d, "data", "add_view", name="x", source="titanic", steps=[{"op": "filter", "expr": "agee > 1"}]),
          "not_found", in_message="unknown column 'agee' at 1:1", did_you_mean="age")
    fails(h(d, "data", "add_view", name="x", source="titanic", steps=[{"op": "rolling", "window": 3}]),
          "invalid_params", in_message="'aggs' is required")
    fails(h(d, "data", "add_view", name="x", source="titanic", steps=[{"op": "rolling", "window": "3", "aggs": {}}]),
          "invalid_params", in_message="'window' must be an integer")
    fails(h(d, "data", "add_view", name="x", source="titanic", steps=[{"op": "sort", "by": "age", "asc": True}]),
          "invalid_params", in_message="unknown key 'asc'", did_you_mean="ascending")
    fails(h(d, "data", "add_view", name="x", source="titanic", steps={"op": "filter"}), "invalid_params", rc=2,
          in_message="'steps' must be a list")
    fails(h(d, "data", "add_view", name="x", source="titanic",
            steps=[{"op": "lag", "columns": {"now": "survived:0"}}]), "blocked", in_message="outcome")
    fails(h(d, "data", "add_view", name="adults", source="titanic"), "conflict", in_message="exists already")
    fails(h(d, "data", "add_view", name="titanic", source="titanic"), "conflict", in_message="share one set of names")
    fails(h(d, "data", "add_view", name="a b", source="titanic"), "invalid_params", in_message="character ' '")
    fails(h(d, "data", "add_view", name="x"), "invalid_params", rc=2, in_message="'source' is required")
    fails(h(d, "data", "update_view", name="adult", description="x"), "not_found", did_you_mean="adults")
    fails(h(d, "data", "update_view", name="adults"), "invalid_params", in_message="nothing to update")
    fails(h(d, "data", "update_view", name="adults", source="top"), "invalid_params",
          in_message="views form a cycle: adults → top → adults")
    fails(h(d, "data", "update_view", name="adults", steps=[{"op": "filter", "expr": "age >= 18"}]), "not_found",
          in_message="this breaks view 'top'")
    e = fails(h(d, "data", "remove_view", name="adults"), "conflict", in_message="read by view(s) 'top'")
    fails(h(d, "data", "remove_view", name="top"), "conflict", in_message="it is the features view")
    fails(h(d, "data", "remove_view", name="tpo"), "not_found", did_you_mean="top")
    fails(h(d, "data", "preview_view", name="adlts"), "not_found", did_you_mean="adults")
    fails(h(d, "data", "preview_view", name="adults", n_rows=0), "invalid_params", in_message="n_rows")
    fails(h(d, "data", "set_features_view", name="nope"), "not_found")
    # failed commits roll back, and no cache file is written for a failed action
    fails(h(d, "data", "add_view", name="y", source="titanic", env={"HARNESS_FAIL_COMMIT_AT": "1"}), "io")
    fails(h(d, "data", "set_features_view", name="adults", env={"HARNESS_FAIL_COMMIT_AT": "2"}), "io")
    fails(h(d, "data", "remove_view", name="top", env={"HARNESS_FAIL_COMMIT_AT": "1"}), "conflict")
    assert tree_digest(d) == before, "a failed action must leave the project byte-identical"
    # a view that fails while computing leaves no cache behind either
    ok(h(d, "data", "add_view", name="bad", source="titanic",
         steps=[{"op": "encode", "column": "name", "method": "onehot"}]))
    before = tree_digest(d)
    fails(h(d, "data", "preview_view", name="bad"), "limit", in_message="onehot makes at most")
    assert tree_digest(d) == before


@test
def views_batch_adds_each_or_all():
    d = titanic_project()
    items = [{"name": "kids", "source": "titanic", "steps": [{"op": "filter", "expr": "age < 18"}]},
             {"name": "broken", "source": "titanic", "steps": [{"op": "select", "columns": ["nope"]}]},
             {"name": "kid_fares", "source": "kids", "steps": [{"op": "select", "columns": ["fare"]}]}]
    before = tree_digest(d)
    r = h(d, "data", "add_views_batch", views=items, atomic=True)
    fails(r, "not_found", in_message="nothing added (atomic)")
    assert tree_digest(d) == before
    j = ok(h(d, "data", "add_views_batch", views=items))
    assert j["added"] == 2 and [x["ok"] for x in j["results"]] == [True, False, True], j
    assert j["results"][1]["hint"], j
    j = ok(h(d, "data", "list_views"))
    assert [v["name"] for v in j["views"]] == ["kids", "kid_fares"]
    fails(h(d, "data", "add_views_batch", views=[]), "invalid_params", in_message="non-empty list")


@test
def views_update_recomputes_only_the_view_and_its_dependants():
    d = titanic_project()
    ok(h(d, "data", "add_view", name="base", source="titanic", steps=[{"op": "filter", "expr": "fare > 0"}]))
    ok(h(d, "data", "add_view", name="mid", source="base", steps=[{"op": "derive", "columns": {"f2": "fare * 2"}}]))
    ok(h(d, "data", "add_view", name="top", source="mid", steps=[{"op": "select", "columns": ["f2"]}]))
    ok(h(d, "data", "add_view", name="other", source="base", steps=[]))
    j = ok(h(d, "data", "preview_view", name="top"))
    assert j["computed"] == ["base", "mid", "top"], j
    ok(h(d, "data", "preview_view", name="other"))
    j = ok(h(d, "data", "update_view", name="mid", description="doubled fares"))
    j = ok(h(d, "data", "preview_view", name="top"))
    assert j["computed"] == [] and j["from_cache"] == ["top"], "a description does not change the rows"
    ok(h(d, "data", "update_view", name="mid", steps=[{"op": "derive", "columns": {"f2": "fare * 3"}}]))
    j = ok(h(d, "data", "preview_view", name="top"))
    assert j["computed"] == ["mid", "top"] and j["from_cache"] == ["base"], j
    fares = [float(r["fare"]) for r in read_csv("titanic.csv") if r["fare"] and float(r["fare"]) > 0]
    assert abs(j["preview"][0]["f2"] - 3 * fares[0]) < 1e-9, j["preview"][0]
    j = ok(h(d, "data", "preview_view", name="other"))
    assert j["computed"] == [] and j["from_cache"] == ["other"], j
    assert sum(f.startswith("mid-") for f in cached(d)) == 1, cached(d)
    j = ok(h(d, "data", "list_views"))
    assert j["views"][1]["description"] == "doubled fares"
    ok(h(d, "data", "remove_view", name="other"))
    assert not any(f.startswith("other-") for f in cached(d)), cached(d)
    j = ok(h(d, "data", "list_views"))
    assert [v["name"] for v in j["views"]] == ["base", "mid", "top"]
    ok(h(d, "data", "set_features_view", name="top"))
    j = ok(h(d, "data", "update_view", name="base", steps=[{"op": "filter", "expr": "fare > 1"}]))
    assert any("set_features_view" in w for w in j["warnings"]), j


@test
def views_join_and_union_read_other_sources():
    d = titanic_project()
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "classes.csv")
    with open(path, "w") as f:
        f.write("class,deck\n1st,A\n2nd,B\n3rd,C\n")
    ok(h(d, "data", "add_source", data_path=path, name="classes"))
    ok(h(d, "data", "add_view", name="j", source="titanic", steps=[
        {"op": "join", "other": "classes", "on": "class", "how": "inner"},
        {"op": "group_by", "keys": "deck", "aggs": {"survived": "mean"}}]))
    j = ok(h(d, "data", "preview_view", name="j"))
    rows = read_csv("titanic.csv")
    want = {}
    for deck, cls in [("A", "1st"), ("B", "2nd"), ("C", "3rd")]:
        s = [int(r["survived"]) for r in rows if r["class"] == cls]
        want[deck] = sum(s) / len(s)
    got = {r["deck"]: r["survived_mean"] for r in j["preview"]}
    assert got.keys() == want.keys() and all(abs(got[k] - want[k]) < 1e-12 for k in want), (got, want)
    ok(h(d, "data", "add_view", name="u", source="classes", steps=[{"op": "union", "other": "classes"}]))
    j = ok(h(d, "data", "preview_view", name="u"))
    assert j["rows"] == 6
    # joining a whole-group summary of the target back onto rows is flagged
    ok(h(d, "data", "add_view", name="rates", source="titanic",
         steps=[{"op": "group_by", "keys": "class", "aggs": {"survived": "mean"}}]))
    j = ok(h(d, "data", "add_view", name="leaky", source="titanic",
             steps=[{"op": "join", "other": "rates", "on": "class"}]))
    assert any("includes each row's own outcome" in w for w in j["warnings"]), j
    fails(h(d, "data", "add_view", name="k", source="titanic",
            steps=[{"op": "join", "other": "clases", "on": "class"}]), "not_found", did_you_mean="classes")
    fails(h(d, "data", "add_view", name="k", source="titanic",
            steps=[{"op": "join", "other": "classes", "on": "gender"}]), "not_found", in_message="in 'classes'")


@test
def derive_column_adds_a_formula_column():
    d = titanic_project()
    j = ok(h(d, "data", "derive_column", name="fare_pp", expression="fare / (sibsp + parch + 1)"))
    assert j["type"] == "float" and not j["replaced"] and j["rows"] == 1317, j
    rows = read_csv("titanic.csv")
    want = [None if "" in (r["fare"], r["sibsp"], r["parch"]) else
            float(r["fare"]) / (int(r["sibsp"]) + int(r["parch"]) + 1) for r in rows]
    assert j["nulls"] == sum(w is None for w in want), j
    ok(h(d, "data", "derive_column", name="fare_z", expression="zscore(fare)", group_by="class"))
    j = ok(h(d, "data", "derive_column", name="fare_z", expression="zscore(fare)"))
    assert j["replaced"] and any("replaced" in w for w in j["warnings"]), j
    assert any("column-wise" in w for w in j["warnings"]), j
    j = ok(h(d, "data", "derive_column", name="leak", expression="survived * 2"))
    assert any("leak" in w for w in j["warnings"]), j
    before = tree_digest(d)
    fails(h(d, "data", "derive_column", name="x", expression="fair * 2"), "not_found", did_you_mean="fare")
    fails(h(d, "data", "derive_column", name="x", expression="fare *"), "invalid_params")
    fails(h(d, "data", "derive_column", name="x", expression="zscore(fare)", group_by="clas"), "not_found",
          did_you_mean="class")
    fails(h(d, "data", "derive_column", name="x"), "invalid_params", rc=2, in_message="'expression' is required")
    assert tree_digest(d) == before
    fails(h(new_project(), "data", "derive_column", name="x", expression="1"), "not_found", in_message="no data yet")


@test
def derive_column_group_by_matches_per_group_zscores():
    d = titanic_project()
    ok(h(d, "data", "derive_column", name="fare_z", expression="zscore(fare)", group_by=["class"]))
    # per class, the z-scores have mean 0 and standard deviation 1 (pandas std, ddof=1)
    rows = read_csv("titanic.csv")
    for cls in ["1st", "2nd", "3rd"]:
        ok(h(d, "data", "snapshot", name="before_" + cls))
        j = ok(h(d, "data", "drop_rows", condition=f"class != '{cls}'"))
        assert j["dropped"] == sum(r["class"] != cls for r in rows), j
        stats = ok(h(d, "data", "inspect", column="fare_z"))["column"]
        assert abs(stats["mean"]) < 1e-9 and abs(stats["std"] - 1) < 1e-9, stats
        ok(h(d, "data", "restore_snapshot", name="before_" + cls))


@test
def drop_rows_by_formula_or_null():
    d = titanic_project()
    rows = read_csv("titanic.csv")
    j = ok(h(d, "data", "drop_rows", condition="fare > 100"))
    n_big = sum(1 for r in rows if r["fare"] and float(r["fare"]) > 100)
    assert j["dropped"] == n_big and j["rows"] == len(rows) - n_big, j
    left = [r for r in rows if not (r["fare"] and float(r["fare"]) > 100)]
    j = ok(h(d, "data", "drop_rows", column="age"))
    assert j["dropped"] == sum(r["age"] == "" for r in left), j
    j = ok(h(d, "data", "drop_rows", column="age", condition="null"))
    assert j["dropped"] == 0 and "unchanged" in h(d, "data", "drop_rows", column="age", fmt="md").out
    before = tree_digest(d)
    fails(h(d, "data", "drop_rows"), "invalid_params", in_message="say which rows")
    fails(h(d, "data", "drop_rows", condition="fare >= 0 or isnull(fare)"), "invalid_params",
          in_message="matches all")
    fails(h(d, "data", "drop_rows", condition="fare + 1"), "invalid_params")
    fails(h(d, "data", "drop_rows", column="agee"), "not_found", did_you_mean="age")
    fails(h(d, "data", "drop_rows", condition="fare > 1", env={"HARNESS_FAIL_COMMIT_AT": "1"}), "io")
    assert tree_digest(d) == before


@test
def detect_outliers_reports_bounds_and_changes_nothing():
    d = titanic_project()
    before = tree_digest(d)
    fares = sorted(float(r["fare"]) for r in read_csv("titanic.csv") if r["fare"])

    def q(p):
        hpos = (len(fares) - 1) * p
        lo = int(hpos)
        return fares[lo] + (hpos - lo) * (fares[min(lo + 1, len(fares) - 1)] - fares[lo])
    j = ok(h(d, "data", "detect_outliers", column="fare"))
    c = j["columns"][0]
    q1, q3 = q(0.25), q(0.75)
    assert abs(c["lower"] - (q1 - 1.5 * (q3 - q1))) < 1e-9 and abs(c["upper"] - (q3 + 1.5 * (q3 - q1))) < 1e-9, c
    assert c["above"] == sum(f > c["upper"] for f in fares) and c["below"] == sum(f < c["lower"] for f in fares)
    j = ok(h(d, "data", "detect_outliers", column="fare", method="zscore", threshold=2))
    c = j["columns"][0]
    m, sd = statistics.mean(fares), statistics.stdev(fares)
    assert abs(c["upper"] - (m + 2 * sd)) < 1e-9 and c["above"] == sum(f > m + 2 * sd for f in fares), c
    j = ok(h(d, "data", "detect_outliers"))
    assert {x["column"] for x in j["columns"]} >= {"fare", "age", "sibsp"} and "survived" in {x["column"] for x in j["columns"]}
    fails(h(d, "data", "detect_outliers", method="zscor"), "invalid_params", rc=2, did_you_mean="zscore")
    fails(h(d, "data", "detect_outliers", column="name"), "invalid_params", in_message="outliers need numbers")
    fails(h(d, "data", "detect_outliers", column="fair"), "not_found", did_you_mean="fare")
    fails(h(d, "data", "detect_outliers", threshold=-1), "invalid_params", in_message="positive")
    assert tree_digest(d) == before


@test
def views_outside_a_project_and_empty_listings():
    d = tempfile.mkdtemp()
    for action in ["list_views", "view_dag"]:
        e = fails(h(d, "data", action), "not_found")
        assert "init" in e["hint"], e
    fails(h(d, "data", "preview_view", name="x"), "not_found")
    d = new_project()
    j = ok(h(d, "data", "list_views"))
    assert j["views"] == [] and j["features_view"] is None
    r = h(d, "data", "list_views", fmt="md")
    assert "No views yet" in r.out, r.out
    j = ok(h(d, "data", "view_dag"))
    assert j["nodes"] == [] and j["edges"] == []
    e = fails(h(d, "data", "preview_view", name="x"), "not_found")
    assert "add_view" in e["hint"], e
    j = ok(h(d, "data", "add_views_batch", views=[3]))
    assert j["added"] == 0 and "not an object" in j["results"][0]["error"], j
