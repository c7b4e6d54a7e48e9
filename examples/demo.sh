#!/usr/bin/env bash
# examples/demo.sh HARNESS_BIN — a scripted session on the shipped Titanic data:
# set up a project, ingest, look, clean, and keep a snapshot. Each step is one tool call,
# exactly as an agent would make it over MCP.
set -euo pipefail
H=${1:-build/release/harness}
DATA=${HARNESS_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}/data
P=${DEMO_DIR:-build/demo-titanic}
rm -rf "$P"
mkdir -p "$P"

step() { printf '\n\033[1m$ harness %s\033[0m\n' "$*"; "$H" --project "$P" "$@"; }

step configure init --project_name titanic --task binary --target_column survived \
     --key_columns passenger_id
step data validate --data_path "$DATA/messy_titanic.csv" || echo "(refused, as it should be: the file is broken)"
step data add --data_path "$DATA/titanic.csv"
step data profile --category numeric
step data inspect --column fare
step data fill_nulls --column age --strategy median
step data fill_nulls_batch --columns '[{"column":"fare","strategy":"median"},{"column":"country","strategy":"value","value":"unknown"}]'
step configure exclude_columns --add_columns name,ticketno
step data snapshot --name cleaned
step data status
step configure show
printf '\nThe project is in %s\n' "$P"
