"""Drives the titanic demo pipeline through one `harness mcp` process, as an agent does:
initialize, then one tools/call per step. Prints the wall time of the whole session and
the ensemble's accuracy and brier as JSON."""
import json, os, subprocess, sys, tempfile, time

harness, data = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
project = tempfile.mkdtemp(prefix="hml-bench-")
t0 = time.perf_counter()
p = subprocess.Popen([harness, "mcp"], cwd=project, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
n = 0


def rpc(method, params):
    global n
    n += 1
    p.stdin.write(json.dumps({"jsonrpc": "2.0", "id": n, "method": method, "params": params}) + "\n")
    p.stdin.flush()
    while True:
        msg = json.loads(p.stdout.readline())
        if msg.get("id") == n:
            return msg


def call(tool, **args):
    r = rpc("tools/call", {"name": tool, "arguments": args})
    res = r["result"]
    if res.get("isError"):
        raise SystemExit(f"{tool} {args.get('action')}: {res['content'][0]['text']}")
    return res["structuredContent"]


rpc("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}})
p.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
call("configure", action="init", task="binary", target_column="survived", key_columns=["passenger_id"])
call("data", action="add", data_path=data)
call("data", action="fill_nulls_batch", columns=[{"column": "fare", "strategy": "median"},
                                                 {"column": "country", "strategy": "value", "value": "unknown"}])
call("configure", action="exclude_columns", add_columns=["name", "ticketno"])
call("configure", action="backtest", cv_strategy="stratified_kfold", n_folds=5, seed=42)
call("configure", action="ensemble", method="average")
call("models", action="add", name="xgb", preset="xgboost_classifier", params={"n_estimators": 200, "max_depth": 3})
call("models", action="add", name="lgb", preset="lightgbm_classifier", params={"n_estimators": 200, "num_leaves": 15})
call("models", action="add", name="logreg", preset="logistic_regression")
run = call("pipeline", action="run_backtest")
t = time.perf_counter() - t0
p.stdin.close()
p.wait()
m = run["ensemble"]["metrics"]
print(json.dumps({"seconds": t, "accuracy": m["accuracy"], "brier": m["brier"]}))
