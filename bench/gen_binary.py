"""Writes a deterministic synthetic binary dataset: N rows × 50 float columns x0..x49
and a 0/1 target y (a linear signal in x0..x4 plus an interaction x5*x6)."""
import sys
import numpy as np

n, path = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
X = rng.standard_normal((n, 50)).astype(np.float32)
logit = X[:, :5] @ np.array([1.0, -0.8, 0.6, 0.4, -0.3], dtype=np.float32) + 0.5 * X[:, 5] * X[:, 6]
y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
with open(path, "w") as f:
    f.write(",".join([f"x{i}" for i in range(50)] + ["y"]) + "\n")
    for start in range(0, n, 100000):
        block = X[start:start + 100000]
        lines = ["," + str(v) for v in y[start:start + 100000]]
        rows = np.char.add(np.apply_along_axis(lambda r: ",".join(f"{v:.5f}" for v in r), 1, block) if False else
                           np.array([",".join(f"{v:.5f}" for v in r) for r in block]), np.array(lines))
        f.write("\n".join(rows.tolist()) + "\n")
