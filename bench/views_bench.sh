#!/usr/bin/env bash
# views_bench.sh [ROWS] — view steps against pandas doing the same on the same data.
#
# ROWS rows (default 1,000,000) with 20,000 groups in random time order, generated once,
# deterministically, under build/bench/views_ROWS/. Each op runs in its own fresh process
# on each side (so each peak RSS is that op's), three times; the best time counts. Both
# sides start from the data already in memory (a .hfr / pickle copy loaded untimed) and
# return a frame aligned with the input rows (one row per group for group_by). Prints one
# line per op: harness and pandas seconds, the ratio pandas/harness (> 1: we are faster),
# and both peaks.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${1:-1000000}
B=build/release
PY=/usr/bin/python3
OUT=build/bench/views_$ROWS
mkdir -p "$OUT"

if [ ! -f "$OUT/main.csv" ]; then
  echo "generating $OUT ..." >&2
  "$PY" bench/gen_views.py "$ROWS" "$OUT"
fi

make -s "$B/libharness.a"
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Iinclude bench/views_run.c \
  "$B/libharness.a" $(pkg-config --libs jansson yaml-0.1 sqlite3) -lm -lpthread -o "$B/views_run"

have_pandas=1
"$PY" -c 'import pandas' 2>/dev/null || have_pandas=0
# first use builds the binary copies (untimed)
"$B/views_run" "$OUT" derive 1 > /dev/null
[ $have_pandas = 1 ] && "$PY" bench/views_pandas.py "$OUT" derive 1 > /dev/null

mb() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
printf "%-9s %10s %10s %8s %11s %11s\n" op harness_s pandas_s ratio harness_MB pandas_MB
for op in group_by join rolling lag ewm rank derive; do
  read -r _ hs hpeak halloc hrows < <("$B/views_run" "$OUT" "$op" 3)
  if [ $have_pandas = 1 ]; then
    read -r _ ps ppeak < <("$PY" bench/views_pandas.py "$OUT" "$op" 3)
    ratio=$(awk -v h="$hs" -v p="$ps" 'BEGIN { printf "%.2fx", p / h }')
  else
    ps=- ppeak=0 ratio=-
  fi
  printf "%-9s %10s %10s %8s %11s %11s\n" "$op" "$hs" "$ps" "$ratio" "$(mb "$hpeak")" "$(mb "$ppeak")"
done
echo "($ROWS rows, 20,000 groups; ratio = pandas time / harness time; MB = peak RSS of the process)"
