#!/usr/bin/env bash
# backtest_bench.sh — backtests against the Python peers, measured in this run, one thread:
#   1. XGBoost, 5-fold, on a 1,000,000 × 50 synthetic binary set: our total, the share
#      spent outside libxgboost, peak RSS against the float32 matrix; python xgboost on
#      the same folds.
#   2. Logistic regression fit+predict over the same folds vs scikit-learn (100,000 rows).
#   3. Five models, then one changed: the cached re-run's time against the full run.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/release
H=$B/harness
OUT=build/bench
PY=/usr/bin/python3
mkdir -p "$OUT"
make -s "$H"
ROWS=${BENCH_ROWS:-1000000}

gen() { # rows → path
  local p=$OUT/binary_${1}x50.csv
  [ -f "$p" ] || { echo "generating $p ..." >&2; $PY bench/gen_binary.py "$1" "$p.tmp" && mv "$p.tmp" "$p"; }
  echo "$p"
}

project() { # csv → project dir (ingested once, kept)
  local P=$OUT/proj-$(basename "$1" .csv)
  if [ ! -f "$P/data/table.hfr" ]; then
    rm -rf "$P"
    $H --project "$P" configure init --task binary --target_column y >/dev/null
    $H --project "$P" data add --data_path "$1" >/dev/null
    $H --project "$P" configure backtest --cv_strategy kfold --n_folds 5 --metrics accuracy,brier >/dev/null
  fi
  echo "$P"
}

# Runs a backtest in a fresh process; prints "seconds backend_seconds accuracy maxrss_mb".
timed_backtest() { # project extra-args...
  local P=$1; shift
  $PY - "$H" "$P" "$@" <<'PY'
import json, resource, subprocess, sys, time
h, p, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
t0 = time.perf_counter()
out = subprocess.run([h, "--project", p, "--format", "json", "pipeline", "run_backtest", *extra],
                     capture_output=True, text=True, check=True).stdout
t = time.perf_counter() - t0
j = json.loads(out)
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(t, j["backend_seconds"], j["ensemble"]["metrics"]["accuracy"], rss, j["run_id"], j["ensemble_seconds"], j["seconds"])
PY
}

# 1. XGBoost on the big set.
CSV=$(gen "$ROWS"); P=$(project "$CSV")
$H --project "$P" configure ensemble --method average --calibration none >/dev/null
$H --project "$P" models remove_batch --items '[{"name":"xgb","purge":true},{"name":"logreg","purge":true}]' >/dev/null 2>&1 || true
$H --project "$P" models add --name xgb --model_type xgboost --params '{"n_estimators": 20, "max_depth": 6, "learning_rate": 0.3, "max_bin": 256}' >/dev/null
$H --project "$P" pipeline clear_cache >/dev/null
read -r t tb acc rss run _ _ < <(timed_backtest "$P" --nthread 1)
read -r pt pacc < <($PY bench/backtest_peer.py xgb "$CSV" "$P/outputs/$run/predictions.csv" | $PY -c "import json,sys; j=json.load(sys.stdin); print(j['seconds'], j['accuracy'])")
mat=$($PY -c "print($ROWS*50*4/2**20)")
$PY -c "
t,tb,acc,rss,pt,pacc,mat=$t,$tb,$acc,$rss,$pt,$pacc,$mat
print(f'xgboost ${ROWS}x50 5-fold: harness {t:.1f}s (outside libxgboost {100*(t-tb)/t:.1f}%, accuracy {acc:.4f}, peak RSS {rss:.0f} MB = {rss/mat:.1f}x the float32 matrix) python-xgboost {pt:.1f}s (accuracy {pacc:.4f}) ratio {pt/t:.2f}x')"

# 2. Logistic regression on 100,000 rows, same folds as scikit-learn.
CSV=$(gen 100000); P=$(project "$CSV")
$H --project "$P" configure ensemble --method average --calibration none >/dev/null
$H --project "$P" models remove_batch --items '[{"name":"logreg","purge":true},{"name":"m1","purge":true},{"name":"m2","purge":true},{"name":"m3","purge":true},{"name":"m4","purge":true},{"name":"m5","purge":true}]' >/dev/null 2>&1 || true
$H --project "$P" models add --name logreg --model_type logistic_regression >/dev/null
$H --project "$P" pipeline clear_cache >/dev/null
read -r t tb acc rss run _ _ < <(timed_backtest "$P" --nthread 1)
read -r pt pacc < <($PY bench/backtest_peer.py logreg "$CSV" "$P/outputs/$run/predictions.csv" | $PY -c "import json,sys; j=json.load(sys.stdin); print(j['seconds'], j['accuracy'])")
$PY -c "print(f'logistic regression 100000x50 5-fold fit+predict: harness {$tb:.2f}s (accuracy {$acc:.4f}) scikit-learn {$pt:.2f}s (accuracy {$pacc:.4f}) ratio {$pt/$tb:.1f}x')"

# 3. Five models, then one changed: how much of the full run does the re-run cost?
$H --project "$P" models remove --name logreg --purge true >/dev/null
$H --project "$P" models add_batch --items '[{"name":"m1","model_type":"xgboost","params":{"n_estimators":50}},{"name":"m2","model_type":"lightgbm","params":{"n_estimators":50}},{"name":"m3","model_type":"random_forest","params":{"n_estimators":50}},{"name":"m4","model_type":"logistic_regression"},{"name":"m5","model_type":"xgboost","params":{"n_estimators":50,"max_depth":3}}]' >/dev/null
$H --project "$P" configure ensemble --method stacked --calibration spline >/dev/null
$H --project "$P" pipeline clear_cache >/dev/null
read -r full _ _ _ _ ens total < <(timed_backtest "$P")
$PY -c "print(f'stacked ensemble + spline calibration on 100000x50, 5 models: {$ens:.3f}s of a {$total:.2f}s backtest = {100*$ens/$total:.1f}%')"
$H --project "$P" models update --name m5 --params '{"max_depth": 4}' >/dev/null
read -r again _ _ _ _ _ _ < <(timed_backtest "$P")
$PY -c "print(f'cached re-run after changing 1 of 5 models (100000x50): {$again:.2f}s of a {$full:.2f}s full run = {100*$again/$full:.0f}%')"
