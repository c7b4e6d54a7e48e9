#!/usr/bin/env bash
# explore_bench.sh — an exploration of 20 trials on Titanic where the trials differ in
# one model's params (five models), against 20 full backtests with an empty prediction
# cache each time: what the cache saves an exploration.
set -euo pipefail
cd "$(dirname "$0")/.."
H=build/release/harness
make -s "$H"
P=$(mktemp -d)
trap 'rm -rf "$P"' EXIT
q() { "$H" --project "$P" "$@" >/dev/null; }
q configure init --task binary --target_column survived --key_columns passenger_id
q data add --data_path examples/titanic/titanic.csv
q configure exclude_columns --add_columns name,ticketno
q configure backtest --cv_strategy stratified_kfold --n_folds 5
q configure ensemble --method average
q models add --name xgb --preset xgboost_classifier --params '{"n_estimators": 100}'
q models add --name lgb --preset lightgbm_classifier --params '{"n_estimators": 100}'
q models add --name logreg --preset logistic_regression
q models add --name rf --preset random_forest_classifier --params '{"n_estimators": 100}'
q models add --name mlp --preset mlp_classifier --params '{"hidden_layers": "32", "max_epochs": 30}'
q configure workflow --min_model_types 4
space='{"axes": [{"key": "models.xgb.params.max_depth", "type": "integer", "low": 1, "high": 8},
                 {"key": "models.xgb.params.learning_rate", "type": "continuous", "low": 0.01, "high": 0.3, "log": true}]}'
t0=$(date +%s.%N)
out=$("$H" --project "$P" --format json experiments explore --search_space "$space" --budget 20)
t1=$(date +%s.%N)
t2=$(date +%s.%N)
for i in $(seq 20); do q pipeline clear_cache; q pipeline run_backtest; done
t3=$(date +%s.%N)
echo "$out" | /usr/bin/python3 -c "
import json, sys
j = json.load(sys.stdin)
te, tu = $t1 - $t0, $t3 - $t2
print(f'exploration of 20 trials (titanic, 5 models, one model varied): {te:.2f}s with the cache ({j[\"fits\"]} fits, '
      f'{j[\"cache_hits\"]} cached) vs 20 uncached full runs {tu:.2f}s: {tu/te:.1f}x faster (goal 3x)')"
