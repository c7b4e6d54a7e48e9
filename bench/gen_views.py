#!/usr/bin/python3
"""gen_views.py ROWS OUT_DIR — the inputs of views_bench.sh, deterministic (seed 7):
main.csv (ROWS rows: k int key with 20,000 groups, t int time in random order, five float
columns x y z w v with 1% nulls in x, s a 50-value text key) and other.csv (one row per k
with two float columns), for the join."""
import os
import sys

import numpy as np
import pandas as pd


def main():
    rows, out = int(sys.argv[1]), sys.argv[2]
    rng = np.random.default_rng(7)
    groups = 20000
    df = pd.DataFrame({
        "k": rng.integers(0, groups, rows),
        "t": rng.permutation(rows),
        "x": rng.normal(100, 15, rows).round(3),
        "y": rng.normal(0, 1, rows).round(4),
        "z": rng.uniform(0, 10, rows).round(4),
        "w": rng.normal(5, 2, rows).round(4),
        "v": rng.exponential(3, rows).round(4),
        "s": np.char.add("cat", rng.integers(0, 50, rows).astype(str)),
    })
    df.loc[rng.random(rows) < 0.01, "x"] = np.nan
    df.to_csv(os.path.join(out, "main.csv"), index=False)
    other = pd.DataFrame({"k": np.arange(groups), "a": rng.normal(0, 1, groups).round(4),
                          "b": rng.uniform(0, 1, groups).round(4)})
    other.to_csv(os.path.join(out, "other.csv"), index=False)


if __name__ == "__main__":
    main()
