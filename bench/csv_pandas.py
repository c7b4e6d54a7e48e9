#!/usr/bin/python3
"""csv_pandas.py FILE [REPEAT] — best-of-N wall time of pandas.read_csv on FILE, and the
process's peak RSS. Prints: seconds rows cols peak_rss_bytes."""
import resource
import sys
import time

import pandas as pd

def main():
    path = sys.argv[1]
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    best, df = float("inf"), None
    for _ in range(repeat):
        df = None
        t0 = time.perf_counter()
        df = pd.read_csv(path)
        best = min(best, time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"{best:.3f} {len(df)} {len(df.columns)} {peak}")

if __name__ == "__main__":
    main()
