#!/usr/bin/env bash
# mlp_bench.sh — the native mlp backend against PyTorch (Debian python3-torch, CPU, one
# thread) training the same network the same way: same standardised float32 data (written
# by bench/mlp_peer.py gen), hidden layers, ReLU, He-normal init, Adam (lr, betas, eps),
# batch size, epochs, a reshuffle per epoch, no early stopping. Fit time only (the training
# loop; the harness side also includes its median/standardisation pass), best of 3 runs
# each; accuracy on the held-out rows from the best run. One line per dataset:
#   mlp synthetic 40000x40 (64,32; 20 epochs; batch 128): harness 0.30s (acc 0.9) torch 3.1s (acc 0.9) ratio 10.3x
# Installs python3-torch with apt-get when it is missing; prints a skip line if it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/release
OUT=build/bench/mlp
PY=/usr/bin/python3
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "python3-torch is missing; installing it with apt-get ..." >&2
  if ! apt-get -o DPkg::Lock::Timeout=600 install -y python3-torch >&2 || ! "$PY" -c "import torch" 2>/dev/null; then
    echo "mlp: skipped (python3-torch is not installed and apt-get could not install it)"
    exit 0
  fi
fi

mkdir -p "$OUT"
[ -f "$OUT/breast_cancer_meta.txt" ] && [ "$OUT/breast_cancer_meta.txt" -nt bench/mlp_peer.py ] || "$PY" bench/mlp_peer.py gen "$OUT"
make -s "$B/libharness.a"
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iinclude bench/mlp_fit.c "$B/libharness.a" \
  $(pkg-config --libs jansson yaml-0.1 sqlite3 xgboost openblas lapacke) -lm -lpthread -o "$OUT/mlp_fit"

# best of 3: prints "seconds accuracy" of the fastest run
best() {
  local bt="" ba="" t a
  for _ in 1 2 3; do
    read -r t a < <("$@")
    if [ -z "$bt" ] || awk -v x="$t" -v y="$bt" 'BEGIN { exit !(x < y) }'; then bt=$t ba=$a; fi
  done
  echo "$bt $ba"
}

torch_fit() {
  "$PY" bench/mlp_peer.py fit "$@" | "$PY" -c "import json,sys; j=json.load(sys.stdin); print(j['fit_seconds'], j['accuracy'])"
}

run() { # NAME HIDDEN EPOCHS BATCH LR
  local name=$1 hidden=$2 epochs=$3 batch=$4 lr=$5
  local params="{\"hidden_layers\": \"$hidden\", \"max_epochs\": $epochs, \"batch_size\": $batch, \"learning_rate\": $lr, \"patience\": 0}"
  local th ah tt at
  read -r th ah < <(best "$OUT/mlp_fit" "$OUT" "$name" "$params" 42)
  read -r tt at < <(best torch_fit "$OUT" "$name" "$hidden" "$epochs" "$batch" "$lr" 42)
  read -r rows _ cols < "$OUT/${name}_meta.txt"
  awk -v n="$name" -v r="$rows" -v c="$cols" -v h="$hidden" -v e="$epochs" -v b="$batch" \
      -v th="$th" -v ah="$ah" -v tt="$tt" -v at="$at" 'BEGIN {
    printf "mlp %s %dx%d (%s; %d epochs; batch %d): harness %.2fs (acc %.4f) torch %.2fs (acc %.4f) ratio %.1fx\n",
           n, r, c, h, e, b, th, ah, tt, at, tt / th }'
}

run synthetic 64,32 20 128 0.001
run breast_cancer 64,32 100 32 0.001
