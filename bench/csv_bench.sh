#!/usr/bin/env bash
# csv_bench.sh [ROWS] — hml_csv_read_file against pandas.read_csv on a generated CSV.
#
# The CSV (ROWS × 20: 8 int, 8 float, 2 short string, 1 bool, 1 date columns) is
# generated once, deterministically, and cached under build/bench/. Each side runs
# three times in fresh processes (so each peak RSS is its own); the best time counts.
# Prints one line:
#   csv 1000000x20: harness 0.40s (peak 147 MB, frame 141 MB) pandas 0.65s (peak 470 MB) ratio 1.62x
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${1:-1000000}
B=build/release
OUT=build/bench
PY=/usr/bin/python3
mkdir -p "$OUT"
CSV=$OUT/csv_${ROWS}x20.csv

if [ ! -f "$CSV" ]; then
  echo "generating $CSV ..." >&2
  "$PY" bench/gen_csv.py "$ROWS" "$CSV.tmp"
  mv "$CSV.tmp" "$CSV"
fi

make -s "$B/libharness.a"
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Iinclude bench/csv_read.c \
  "$B/libharness.a" $(pkg-config --libs jansson yaml-0.1 sqlite3) -lm -lpthread -o "$OUT/csv_read"

cat "$CSV" > /dev/null # both sides start from a warm page cache

best_h="" peak_h="" frame_h=""
for _ in 1 2 3; do
  read -r secs rows cols frame peak < <("$OUT/csv_read" "$CSV")
  if [ -z "$best_h" ] || awk -v a="$secs" -v b="$best_h" 'BEGIN { exit !(a < b) }'; then
    best_h=$secs
  fi
  peak_h=$peak frame_h=$frame
done
[ "$rows" = "$ROWS" ] && [ "$cols" = 20 ] || { echo "harness read $rows x $cols" >&2; exit 1; }

best_p="" peak_p=""
if "$PY" -c 'import pandas' 2>/dev/null; then
  read -r best_p prows pcols peak_p < <("$PY" bench/csv_pandas.py "$CSV" 3)
  [ "$prows" = "$ROWS" ] || { echo "pandas read $prows rows" >&2; exit 1; }
fi

mb() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
line="csv ${ROWS}x20: harness ${best_h}s (peak $(mb "$peak_h") MB, frame $(mb "$frame_h") MB)"
if [ -n "$best_p" ]; then
  ratio=$(awk -v h="$best_h" -v p="$best_p" 'BEGIN { printf "%.2f", p / h }')
  line="$line pandas ${best_p}s (peak $(mb "$peak_p") MB) ratio ${ratio}x"
else
  line="$line pandas not installed"
fi
echo "$line"
