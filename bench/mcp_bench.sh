#!/usr/bin/env bash
# mcp_bench.sh [ROUND_TRIPS] — what an agent feels of `harness mcp`: ping and tools/list
# round-trip latency (goal: median under 1 ms), the size of the tools/list answer (goal:
# under 24 KB: every session pays for it in context), and idle RSS (goal: under 20 MB).
# Driven by bench/mcp_drive.c over pipes, sequential round trips, the first tenth as warm-up.
# Prints:
#   mcp ping: median 0.030 ms, p99 0.061 ms (goal < 1 ms)
#   mcp tools/list: median 0.048 ms, p99 0.090 ms (goal < 1 ms); answer 5,828 bytes (goal < 24 KB)
#   mcp idle RSS: 7.9 MB, peak 8.1 MB (goal < 20 MB)
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-2000}
B=build/release
OUT=build/bench
mkdir -p "$OUT"
make -s "$B/harness"
cc -std=c11 -O2 -Wall -Wextra -Werror bench/mcp_drive.c -o "$OUT/mcp_drive"

home=$(mktemp -d); trap 'rm -rf "$home"' EXIT
declare -A m
while IFS='=' read -r k v; do m[$k]=$v; done < <(cd "$home" && HARNESS_HOME="$home" "$OLDPWD/$OUT/mcp_drive" "$OLDPWD/$B/harness" "$N")
[ "${m[exit]:-}" = 0 ] || { echo "mcp bench: the server exited ${m[exit]:-?}" >&2; exit 1; }

verdict() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b) ? "ok" : "OVER GOAL" }'; }
printf 'mcp ping: median %.3f ms, p99 %.3f ms (%d round trips; goal < 1 ms: %s)\n' \
  "${m[ping_median_ms]}" "${m[ping_p99_ms]}" "$N" "$(verdict "${m[ping_median_ms]}" 1)"
printf 'mcp tools/list: median %.3f ms, p99 %.3f ms (goal < 1 ms: %s); answer %d bytes (goal < 24576: %s)\n' \
  "${m[tools_list_median_ms]}" "${m[tools_list_p99_ms]}" "$(verdict "${m[tools_list_median_ms]}" 1)" \
  "${m[tools_list_bytes]}" "$(verdict "${m[tools_list_bytes]}" 24576)"
printf 'mcp idle RSS: %.1f MB, peak %.1f MB (goal < 20 MB: %s); initialize %.2f ms\n' \
  "$(awk -v k="${m[idle_rss_kb]}" 'BEGIN { print k / 1024 }')" "$(awk -v k="${m[idle_hwm_kb]}" 'BEGIN { print k / 1024 }')" \
  "$(verdict "${m[idle_rss_kb]}" 20480)" "${m[initialize_ms]}"
