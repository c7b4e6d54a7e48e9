#!/usr/bin/env bash
# titanic_bench.sh — the demo's pipeline end to end (new project, ingest, clean, three
# models, stratified 5-fold backtest) through the harness CLI, against the same
# pipeline in pandas + scikit-learn + xgboost (bench/titanic_peer.py), one thread each,
# measured in this run. Best of 3 wall-clock times per side.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/release
H=$B/harness
DATA=examples/titanic/titanic.csv
make -s "$H"

ours() {
  local P; P=$(mktemp -d)
  local t0 t1
  t0=$(date +%s.%N)
  $H --project "$P" configure init --task binary --target_column survived --key_columns passenger_id >/dev/null
  $H --project "$P" data add --data_path "$DATA" >/dev/null
  $H --project "$P" data fill_nulls_batch --columns '[{"column":"fare","strategy":"median"},{"column":"country","strategy":"value","value":"unknown"}]' >/dev/null
  $H --project "$P" configure exclude_columns --add_columns name,ticketno >/dev/null
  $H --project "$P" configure backtest --cv_strategy stratified_kfold --n_folds 5 --seed 42 >/dev/null
  $H --project "$P" configure ensemble --method average >/dev/null
  $H --project "$P" models add --name xgb --preset xgboost_classifier --params '{"n_estimators": 200, "max_depth": 3}' >/dev/null
  $H --project "$P" models add --name lgb --preset lightgbm_classifier --params '{"n_estimators": 200, "num_leaves": 15}' >/dev/null
  $H --project "$P" models add --name logreg --preset logistic_regression >/dev/null
  local out; out=$($H --project "$P" --format json pipeline run_backtest)
  t1=$(date +%s.%N)
  rm -rf "$P"
  echo "$out" | /usr/bin/python3 -c "import json,sys; j=json.load(sys.stdin); m=j['ensemble']['metrics']; print($t1-$t0, m['accuracy'], m['brier'])"
}

best_ours=999; acc_ours=0; brier_ours=0
for i in 1 2 3; do
  read -r t a b < <(ours)
  if /usr/bin/python3 -c "import sys; sys.exit(0 if $t < $best_ours else 1)"; then best_ours=$t; acc_ours=$a; brier_ours=$b; fi
done
best_mcp=999
for i in 1 2 3; do
  t=$(/usr/bin/python3 bench/titanic_mcp.py "$H" "$PWD/$DATA" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['seconds'])")
  if /usr/bin/python3 -c "import sys; sys.exit(0 if $t < $best_mcp else 1)"; then best_mcp=$t; fi
done
best_py=999; acc_py=0; brier_py=0
for i in 1 2 3; do
  t0=$(date +%s.%N)
  out=$(OMP_NUM_THREADS=1 /usr/bin/python3 bench/titanic_peer.py "$DATA")
  t1=$(date +%s.%N)
  read -r t a b < <(echo "$out" | /usr/bin/python3 -c "import json,sys; j=json.load(sys.stdin); print($t1-$t0, j['accuracy'], j['brier'])")
  if /usr/bin/python3 -c "import sys; sys.exit(0 if $t < $best_py else 1)"; then best_py=$t; acc_py=$a; brier_py=$b; fi
done
/usr/bin/python3 - "$best_ours" "$acc_ours" "$brier_ours" "$best_py" "$acc_py" "$brier_py" "$best_mcp" <<'PY'
import sys
to, ao, bo, tp, ap, bp, tm = map(float, sys.argv[1:])
print(f"titanic pipeline (3 models, stratified 5-fold, end to end): harness CLI {to:.2f}s (10 processes; accuracy {ao:.4f}, "
      f"brier {bo:.4f}) python {tp:.2f}s (accuracy {ap:.4f}, brier {bp:.4f}) ratio {tp/to:.1f}x")
print(f"titanic pipeline through one MCP server session (as an agent runs it): harness {tm:.2f}s python {tp:.2f}s "
      f"ratio {tp/tm:.1f}x")
PY
