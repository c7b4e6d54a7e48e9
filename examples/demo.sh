#!/usr/bin/env bash
# examples/demo.sh HARNESS_BIN — a scripted session on the shipped Titanic data, each
# step one tool call exactly as an agent makes it over MCP: set up a project, ingest,
# look, clean, declare models, backtest, and backtest again (from the cache).
set -euo pipefail
H=${1:-build/release/harness}
HERE=$(cd "$(dirname "$0")" && pwd)
P=${DEMO_DIR:-build/demo-titanic}
rm -rf "$P"
mkdir -p "$P"

step() { printf '\n\033[1m$ harness %s\033[0m\n' "$*"; "$H" --project "$P" "$@"; }

step configure init --project_name titanic --task binary --target_column survived \
     --key_columns passenger_id
step data add --data_path "$HERE/titanic/titanic.csv"
step data profile --category numeric
step data fill_nulls_batch --columns '[{"column":"fare","strategy":"median"},{"column":"country","strategy":"value","value":"unknown"}]'
step configure exclude_columns --add_columns name,ticketno
step features add --name family_size --formula "sibsp + parch + 1" --description "people travelling together"
step features add --name fare_per_person --formula "safe_div(fare, sibsp + parch + 1)"
step features add --name is_child --type regime --condition "age < 14"
step configure suggest_cv
step configure backtest --cv_strategy stratified_kfold --n_folds 5 --seed 42
step models add --name xgb --preset xgboost_classifier --params '{"n_estimators": 200, "max_depth": 3}'
step models add --name lgb --preset lightgbm_classifier --params '{"n_estimators": 200, "num_leaves": 15}'
step models add --name logreg --preset logistic_regression
step data snapshot --name before_first_backtest
step pipeline run_backtest
step pipeline run_backtest --detail full
printf '\nThe second run fitted nothing: every (model, fold) came from the prediction cache.\n'
printf 'The project is in %s\n' "$P"
