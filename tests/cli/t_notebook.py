# Tests of the notebook tool (loaded into run.py's module: h, ok, fails, tree_digest, new_project, …).


def nb_lines(d):
    with open(os.path.join(d, "notebook", "entries.jsonl"), encoding="utf-8") as f:
        text = f.read()
    assert text.endswith("\n"), repr(text[-80:])
    return [json.loads(line) for line in text.splitlines()]


@test
def notebook_write_read_strike_and_paginate():
    d = new_project()
    j = ok(h(d, "notebook", "write", type="plan", content="Baseline xgboost, then family size.", tags="baseline, plan"))
    assert j["id"] == "nb-001" and j["entry"]["tags"] == ["baseline", "plan"], j
    for i in range(1, 6):
        ok(h(d, "notebook", "write", type="finding", content=f"finding {i}", tags=["odd" if i % 2 else "even"]))
    j = ok(h(d, "notebook", "write", type="theory", content="Women and children first.", experiment_id="exp-001"))
    assert j["entry"]["experiment_id"] == "exp-001" and j["id"] == "nb-007"
    assert any("no experiment 'exp-001'" in w for w in j["warnings"]), j
    lines = nb_lines(d)
    assert [e["id"] for e in lines] == [f"nb-{i:03d}" for i in range(1, 8)]
    assert set(lines[0]) == {"id", "type", "content", "tags", "created_at"}, lines[0]

    j = ok(h(d, "notebook", "read", per_page=3, page=2))
    assert [e["id"] for e in j["entries"]] == ["nb-004", "nb-003", "nb-002"], j  # newest first
    assert (j["total"], j["pages"], j["page"]) == (7, 3, 2), j
    j = ok(h(d, "notebook", "read", per_page=3, page=3))
    assert [e["id"] for e in j["entries"]] == ["nb-001"]
    j = ok(h(d, "notebook", "read", page=9))
    assert j["entries"] == [] and j["total"] == 7
    j = ok(h(d, "notebook", "read", type="finding", tags="odd"))
    assert [e["id"] for e in j["entries"]] == ["nb-006", "nb-004", "nb-002"], j
    r = h(d, "notebook", "read", entry_id="nb-1", fmt="md")
    assert r.rc == 0 and r.out.startswith("### nb-001 · plan · ") and "Baseline xgboost" in r.out, r.out

    j = ok(h(d, "notebook", "strike", entry_id="nb-003", reason="measured on the wrong fold"))
    assert j["id"] == "nb-003" and j["struck_at"], j
    assert nb_lines(d)[-1] == {"strike": "nb-003", "reason": "measured on the wrong fold", "created_at": j["struck_at"]}
    assert len(nb_lines(d)) == 8  # nothing deleted: a strike is a record of its own
    j = ok(h(d, "notebook", "read", type="finding"))
    assert [e["id"] for e in j["entries"]] == ["nb-006", "nb-005", "nb-004", "nb-002"] and j["struck_hidden"] == 1, j
    r = h(d, "notebook", "read", type="finding", fmt="md")
    assert "1 struck hidden (include_struck=true shows them)" in r.out, r.out
    j = ok(h(d, "notebook", "read", type="finding", include_struck=True))
    struck = [e for e in j["entries"] if e.get("struck")]
    assert [e["id"] for e in struck] == ["nb-003"] and struck[0]["strike_reason"] == "measured on the wrong fold"
    r = h(d, "notebook", "read", include_struck=True, fmt="md")
    assert "~~struck " in r.out and "measured on the wrong fold~~" in r.out, r.out


@test
def notebook_search_ranks_by_matches_then_recency():
    d = new_project()
    ok(h(d, "notebook", "write", type="note", content="fare, FARE and Fare"))          # 3
    ok(h(d, "notebook", "write", type="note", content="fare once"))                     # 1
    ok(h(d, "notebook", "write", type="finding", content="fare twice: fare", tags=["x"]))  # 2
    ok(h(d, "notebook", "write", type="note", content="fare again", tags=["fare"]))     # 2, newer
    ok(h(d, "notebook", "write", type="note", content="about age"))
    j = ok(h(d, "notebook", "search", query="Fare"))
    assert [(e["id"], e["matches"]) for e in j["hits"]] == [("nb-001", 3), ("nb-004", 2), ("nb-003", 2), ("nb-002", 1)], j
    j = ok(h(d, "notebook", "search", query="fare", type="finding"))
    assert [e["id"] for e in j["hits"]] == ["nb-003"]
    j = ok(h(d, "notebook", "search", query="fare", per_page=2, page=2))
    assert [e["id"] for e in j["hits"]] == ["nb-003", "nb-002"] and j["total"] == 4
    r = h(d, "notebook", "search", query="fare", fmt="md")
    assert r.out.startswith("4 entries match 'fare' (most matches first, then newest)"), r.out
    assert "- nb-001 · note · 3 matches: fare, FARE and Fare" in r.out, r.out
    ok(h(d, "notebook", "strike", entry_id="nb-001", reason="duplicate"))
    j = ok(h(d, "notebook", "search", query="fare"))
    assert [e["id"] for e in j["hits"]] == ["nb-004", "nb-003", "nb-002"], j
    j = ok(h(d, "notebook", "search", query="fare", include_struck=True))
    assert j["total"] == 4
    j = ok(h(d, "notebook", "search", query="zebra"))
    assert j["total"] == 0 and j["hits"] == []


@test
def notebook_summary_is_short_and_says_where_things_stand():
    d = new_project()
    r = h(d, "notebook", "summary", fmt="md")
    assert r.rc == 0 and r.out.startswith("No notebook entries yet"), r.out
    ok(h(d, "notebook", "write", type="theory", content="Old theory."))
    ok(h(d, "notebook", "write", type="theory", content="Class and gender explain most of survival."))
    ok(h(d, "notebook", "write", type="plan", content="1. xgboost baseline\n2. add family size", tags=["xgb"]))
    for i in range(1, 8):
        ok(h(d, "notebook", "write", type="finding", content=f"finding {i}\nmore detail", tags=["fare"]))
    ok(h(d, "notebook", "write", type="phase_transition", content="EDA done, moving to model diversity"))
    r = h(d, "notebook", "summary", fmt="md")
    text = r.out
    assert len(text) <= 1500, len(text)
    assert text.startswith("# Notebook: 11 entries\ntheory 2 · finding 7 · plan 1 · phase_transition 1\n"), text
    assert "## Theory · nb-002 · " in text and "Class and gender explain most of survival.\n" in text
    assert "Old theory" not in text
    assert "## Plan · nb-003 · " in text and "1. xgboost baseline\n2. add family size\n" in text
    assert "## Recent findings (5 of 7)" in text and "- nb-010 (" in text and "): finding 7…" in text
    assert "- nb-005 (" not in text
    assert "fare ×7 · xgb ×1" in text, text
    j = ok(h(d, "notebook", "summary"))
    assert j["counts"]["finding"] == 7 and j["counts"]["research"] == 0 and j["entries"] == 11
    assert j["theory"]["id"] == "nb-002" and j["plan"]["id"] == "nb-003"
    assert [f["id"] for f in j["recent_findings"]] == ["nb-010", "nb-009", "nb-008", "nb-007", "nb-006"]
    assert j["entities"][0] == {"name": "fare", "count": 7, "entries": [f"nb-{i:03d}" for i in range(10, 3, -1)]}, j
    # Long entries are cut with a pointer; full detail shows them whole.
    long_theory = "Long theory. " + "x" * 19000
    ok(h(d, "notebook", "write", type="theory", content=long_theory))
    ok(h(d, "notebook", "write", type="plan", content="Long plan. " + "y" * 19000))
    r = h(d, "notebook", "summary", fmt="md")
    assert len(r.out) <= 1500 and "chars: read --entry_id nb-012)" in r.out and "chars: read --entry_id nb-013)" in r.out, r.out
    r = h(d, "notebook", "summary", detail="full", fmt="md")
    assert long_theory in r.out and "## Recent findings (7 of 7)" in r.out


@test
def notebook_errors_have_hints_and_change_nothing():
    d = new_project()
    ok(h(d, "notebook", "write", type="plan", content="a plan"))
    ok(h(d, "notebook", "strike", entry_id="nb-001", reason="replaced"))
    ok(h(d, "notebook", "write", type="note", content="a note"))
    before = tree_digest(d)
    e = fails(h(d, "notebook", "write", type="plann", content="x"), "invalid_params", rc=2, did_you_mean="plan")
    assert "phase_transition" in e["valid_values"]
    fails(h(d, "notebook", "write", type="note"), "invalid_params", rc=2, in_message="'content' is required")
    fails(h(d, "notebook", "write", type="note", content="   "), "invalid_params", in_message="content is empty")
    e = fails(h(d, "notebook", "write", type="note", content="z" * 20001), "limit", in_message="over the limit of 20000")
    assert "split" in e["hint"]
    fails(h(d, "notebook", "write", type="note", content="x", tags=[f"t{i}" for i in range(21)]), "limit",
          in_message="more than 20 distinct tags")
    fails(h(d, "notebook", "write", type="note", content="x", tags=["t" * 65]), "limit", in_message="over 64 characters")
    fails(h(d, "notebook", "write", type="note", content="x", experiment_id="../etc"), "invalid_params")
    fails(h(d, "notebook", "strike", entry_id="nb-001", reason="again"), "conflict", in_message="struck already")
    fails(h(d, "notebook", "strike", entry_id="nb-020", reason="x"), "not_found")
    # nb-001 and nb-002 are equally near; the newer is the likelier target
    fails(h(d, "notebook", "strike", entry_id="nb-00", reason="x"), "not_found", did_you_mean="nb-002")
    fails(h(d, "notebook", "strike", entry_id="nb-002", reason=" "), "invalid_params", in_message="reason is empty")
    fails(h(d, "notebook", "strike", entry_id="nb-002"), "invalid_params", rc=2, in_message="'reason' is required")
    fails(h(d, "notebook", "read", entry_id="nb-009"), "not_found")
    fails(h(d, "notebook", "read", per_page=0), "invalid_params", in_message="per_page 0")
    e = fails(h(d, "notebook", "read", per_page=51), "limit")
    assert "50" in e["hint"]
    fails(h(d, "notebook", "read", page=0), "invalid_params")
    fails(h(d, "notebook", "read", type="theroy"), "invalid_params", rc=2, did_you_mean="theory")
    fails(h(d, "notebook", "search"), "invalid_params", rc=2, in_message="'query' is required")
    fails(h(d, "notebook", "search", query="  "), "invalid_params", in_message="query is empty")
    fails(h(d, "notebook", "search", query="q" * 201), "limit")
    fails(h(d, "notebook", "summary", detail="everything"), "invalid_params", rc=2)
    assert tree_digest(d) == before
    empty = tempfile.mkdtemp()
    e = fails(h(empty, "notebook", "write", type="plan", content="x"), "not_found")
    assert "init" in e["hint"]
    assert os.listdir(empty) == []


@test
def notebook_write_tags_project_names_it_mentions():
    d = titanic_project()
    ok(h(d, "models", "add", name="xgb_main", model_type="xgboost", features=["age", "fare"]))
    j = ok(h(d, "notebook", "write", type="finding", tags=["Age"],
             content="xgb_main: age and Fare matter, gender most (see exp-004); average is not a column"))
    e = j["entry"]
    assert e["tags"] == ["Age"], e
    assert e["auto_tags"] == ["exp-004", "xgb_main", "fare", "gender"], e  # no repeat of Age; "average" ≠ age
    r = h(d, "notebook", "write", type="note", content="nothing known here", fmt="md")
    assert r.rc == 0 and "auto tags" not in r.out, r.out
    j = ok(h(d, "notebook", "read", tags="gender"))
    assert [x["id"] for x in j["entries"]] == ["nb-001"]  # auto tags filter too


@test
def notebook_torn_last_line_is_ignored_then_repaired():
    d = new_project()
    ok(h(d, "notebook", "write", type="plan", content="the plan"))
    ok(h(d, "notebook", "write", type="note", content="a note"))
    path = os.path.join(d, "notebook", "entries.jsonl")
    with open(path, "rb") as f:
        good = f.read()
    torn = b'{"id":"nb-003","type":"finding","content":"cut off mid-wri'
    with open(path, "ab") as f:
        f.write(torn)
    j = ok(h(d, "notebook", "read"))
    assert j["total"] == 2 and any("incomplete" in w for w in j["warnings"]), j
    j = ok(h(d, "notebook", "write", type="finding", content="complete"))
    assert j["id"] == "nb-003" and j["repaired_bytes"] == len(torn) == 58, j
    assert any("removed an incomplete last line (58 bytes)" in w for w in j["warnings"]), j
    with open(path, "rb") as f:
        now = f.read()
    assert now.startswith(good) and b"mid-wri" not in now and now.count(b"\n") == 3
    assert [e["content"] for e in nb_lines(d)] == ["the plan", "a note", "complete"]
    j = ok(h(d, "notebook", "read"))
    assert "warnings" not in j, j


@test
def notebook_concurrent_cli_writers_never_interleave():
    d = new_project()
    procs = []
    for w in range(2):
        for i in range(8):
            content = f"writer {w} entry {i} " + chr(ord("a") + w) * 4000
            cmd = [BIN, "--project", d, "--format", "json", "notebook", "write", "--type", "note", "--content", content]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    ids = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, out + err
        ids.append(json.loads(out)["id"])
    assert sorted(ids) == [f"nb-{i:03d}" for i in range(1, 17)], ids  # unique and without gaps
    lines = nb_lines(d)  # every line parses: no bytes of two writers in one line
    assert [e["id"] for e in lines] == [f"nb-{i:03d}" for i in range(1, 17)]
    for e in lines:
        w = int(e["content"].split()[1])
        assert e["content"].endswith(chr(ord("a") + w) * 4000)
    assert [e["created_at"] for e in lines] == sorted(e["created_at"] for e in lines)


def mcp_read_resource(project, uri):
    """Starts `harness mcp` in project and reads one resource over JSON-RPC."""
    msgs = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "resources/read", "params": {"uri": uri}},
    ]
    p = subprocess.run([BIN, "mcp"], input="".join(json.dumps(m) + "\n" for m in msgs), cwd=project,
                       capture_output=True, text=True, timeout=60)
    for line in p.stdout.splitlines():
        m = json.loads(line)
        if m.get("id") == 2:
            return m["result"]["contents"][0]["text"]
    raise AssertionError(p.stdout + p.stderr)


@test
def notebook_summary_resource_says_what_the_tool_says():
    d = tempfile.mkdtemp(prefix="hml-cli-")
    uri = "harness://project/notebook-summary"
    assert mcp_read_resource(d, uri).startswith("No notebook entries yet")  # before init
    ok(h(d, "configure", "init", task="binary", target_column="survived"))
    ok(h(d, "notebook", "write", type="plan", content="the plan", tags=["a"]))
    ok(h(d, "notebook", "write", type="finding", content="a finding", tags=["a"]))
    ok(h(d, "notebook", "write", type="finding", content="struck finding"))
    ok(h(d, "notebook", "strike", entry_id="nb-003", reason="wrong"))
    tool = h(d, "notebook", "summary", fmt="md").out
    res = mcp_read_resource(d, uri)
    assert res.strip() == tool.strip(), (res, tool)
    assert "struck finding" not in res and "+1 struck, hidden" in res and "a ×2" in res
