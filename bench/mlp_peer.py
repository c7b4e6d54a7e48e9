#!/usr/bin/python3
"""mlp_peer.py — the PyTorch side of bench/mlp_bench.sh, and the data both sides train on.

    mlp_peer.py gen DIR                       writes the datasets (below) into DIR
    mlp_peer.py fit DIR NAME HIDDEN EPOCHS BATCH LR SEED
                                              trains the same MLP in torch, prints JSON
                                              {"fit_seconds": ..., "accuracy": ...}

Datasets, each split into train/test and standardised with the training rows' mean and
population standard deviation (so both sides see the same standardised float32 data):
  synthetic      50,000 x 40 binary: y = 1[1.5 x0 x1 + 2 sin(2 x2) + x3^2 - 1 + 0.8 x4
                 - 0.8 x5 |x6| + 0.5 e > 0], x, e ~ N(0, 1), seed 20240611; 40,000 train.
  breast_cancer  /work/shared/data/breast_cancer.csv (569 x 30, target malignant), a fixed
                 random 70/30 split (seed 7).
Files: NAME_xtr.f32, NAME_xte.f32 (row-major float32), NAME_ytr.f64, NAME_yte.f64 (float64),
NAME_meta.txt ("rows_train rows_test cols").

The torch model mirrors the harness mlp: [Linear -> ReLU] per hidden layer -> Linear(1),
He-normal weights (kaiming_normal_, fan_in, relu gain) and zero biases, BCEWithLogits mean
loss, Adam (betas 0.9/0.999, eps 1e-8, no decay), a fresh random permutation each epoch,
mini-batches of BATCH rows, one thread. Only the training loop is timed (not imports or
data loading); accuracy is on the test rows at threshold 0.5.
"""
import json
import os
import sys
import time

import numpy as np

DATA = "/work/shared/data/"


def write(d, name, xtr, ytr, xte, yte):
    mu = xtr.mean(axis=0)
    sd = xtr.std(axis=0)
    sd[sd == 0] = 1
    xtr = ((xtr - mu) / sd).astype(np.float32)
    xte = ((xte - mu) / sd).astype(np.float32)
    xtr.tofile(os.path.join(d, name + "_xtr.f32"))
    xte.tofile(os.path.join(d, name + "_xte.f32"))
    ytr.astype(np.float64).tofile(os.path.join(d, name + "_ytr.f64"))
    yte.astype(np.float64).tofile(os.path.join(d, name + "_yte.f64"))
    with open(os.path.join(d, name + "_meta.txt"), "w") as f:
        f.write(f"{xtr.shape[0]} {xte.shape[0]} {xtr.shape[1]}\n")


def gen(d):
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(20240611)
    x = rng.standard_normal((50000, 40))
    z = (1.5 * x[:, 0] * x[:, 1] + 2 * np.sin(2 * x[:, 2]) + x[:, 3] ** 2 - 1 + 0.8 * x[:, 4]
         - 0.8 * x[:, 5] * np.abs(x[:, 6]) + 0.5 * rng.standard_normal(50000))
    y = (z > 0).astype(np.float64)
    write(d, "synthetic", x[:40000], y[:40000], x[40000:], y[40000:])

    import pandas as pd
    df = pd.read_csv(DATA + "breast_cancer.csv")
    y = df.pop("malignant").to_numpy(np.float64)
    x = df.to_numpy(np.float64)
    perm = np.random.default_rng(7).permutation(len(y))
    cut = len(y) * 7 // 10
    write(d, "breast_cancer", x[perm[:cut]], y[perm[:cut]], x[perm[cut:]], y[perm[cut:]])


def load(d, name):
    with open(os.path.join(d, name + "_meta.txt")) as f:
        ntr, nte, cols = map(int, f.read().split())
    xtr = np.fromfile(os.path.join(d, name + "_xtr.f32"), np.float32).reshape(ntr, cols)
    xte = np.fromfile(os.path.join(d, name + "_xte.f32"), np.float32).reshape(nte, cols)
    ytr = np.fromfile(os.path.join(d, name + "_ytr.f64"), np.float64).astype(np.float32)
    yte = np.fromfile(os.path.join(d, name + "_yte.f64"), np.float64)
    return xtr, ytr, xte, yte


def fit(d, name, hidden, epochs, batch, lr, seed):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    xtr, ytr, xte, yte = load(d, name)
    widths = [xtr.shape[1]] + [int(h) for h in hidden.split(",") if h.strip()] + [1]
    mods = []
    for i in range(len(widths) - 1):
        lin = torch.nn.Linear(widths[i], widths[i + 1])
        torch.nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
        torch.nn.init.zeros_(lin.bias)
        mods.append(lin)
        if i < len(widths) - 2:
            mods.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*mods)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
    lossf = torch.nn.BCEWithLogitsLoss()
    X, Y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    n = X.shape[0]
    t0 = time.perf_counter()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            opt.zero_grad()
            loss = lossf(model(X[idx])[:, 0], Y[idx])
            loss.backward()
            opt.step()
    secs = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        p = torch.sigmoid(model(torch.from_numpy(xte))[:, 0]).numpy()
    acc = float(((p > 0.5) == (yte > 0.5)).mean())
    print(json.dumps({"fit_seconds": secs, "accuracy": acc}))


def main():
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
    else:
        d, name, hidden, epochs, batch, lr, seed = sys.argv[2:9]
        fit(d, name, hidden, int(epochs), int(batch), float(lr), int(seed))


if __name__ == "__main__":
    main()
