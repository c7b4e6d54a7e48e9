#!/usr/bin/python3
"""views_pandas.py DIR OP [REPEAT] — pandas doing what the view step OP does on DIR's
main.csv/other.csv (loaded from a pickle made on first use; not timed). Every result is a
frame aligned with the input rows (or one row per group), as the view step returns.
Prints: OP best_seconds peak_rss_bytes."""
import os
import resource
import sys
import time

import pandas as pd

FORMULA = "x * y + z / (w + 1) - v * 2 + x * z - y"


def load(d, name):
    pkl = os.path.join(d, name + ".pkl")
    if not os.path.exists(pkl):
        pd.read_csv(os.path.join(d, name + ".csv")).to_pickle(pkl)
    return pd.read_pickle(pkl)


def ordered(df):
    # the window steps order by (k, t), stably, then write results back to each row
    return df.sort_values(["k", "t"], kind="mergesort")


def run(op, df, other):
    if op == "group_by":
        return df.groupby("k").agg(x_mean=("x", "mean"), x_sum=("x", "sum"), x_max=("x", "max"), y_count=("y", "count"))
    if op == "join":
        return df.merge(other, on="k", how="left")
    if op == "rolling":
        d = ordered(df)
        r = d.groupby("k")["x"].rolling(10, min_periods=1).mean()
        out = df.copy()
        out["x_roll"] = r.reset_index(level=0, drop=True)
        return out
    if op == "lag":
        d = ordered(df)
        out = df.copy()
        out["x_lag"] = d.groupby("k")["x"].shift(1)
        return out
    if op == "ewm":
        d = ordered(df)
        r = d.groupby("k")["x"].ewm(span=10).mean()
        out = df.copy()
        out["x_ewm"] = r.reset_index(level=0, drop=True)
        return out
    if op == "rank":
        out = df.copy()
        out["x_rank"] = df.groupby("k")["x"].rank()
        return out
    if op == "derive":
        out = df.copy()
        out["f"] = df.x * df.y + df.z / (df.w + 1) - df.v * 2 + df.x * df.z - df.y
        return out
    raise SystemExit(f"unknown op {op}")


def main():
    d, op = sys.argv[1], sys.argv[2]
    repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    df, other = load(d, "main"), load(d, "other")
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = run(op, df, other)
        best = min(best, time.perf_counter() - t0)
        del res
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"{op} {best:.4f} {peak}")


if __name__ == "__main__":
    main()
