"""The Python peer of bench/backtest_bench.sh: the same CSV, the same folds (read from
harness's predictions.csv, so both sides train on identical rows), the same model
settings, one thread. Prints JSON: seconds per model family and accuracy."""
import json, sys, time
import numpy as np
import pandas as pd

mode, data, preds = sys.argv[1], sys.argv[2], sys.argv[3]
df = pd.read_csv(data)
X = df.drop(columns=["y"]).to_numpy(dtype=np.float32)
y = df["y"].to_numpy()
fold = pd.read_csv(preds).sort_values("row")["fold"].to_numpy()
out = {}
if mode == "xgb":
    import xgboost as xgb
    params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 6, "eta": 0.3, "nthread": 1,
              "verbosity": 0, "max_bin": 256}
    t0 = time.perf_counter()
    p = np.zeros(len(y))
    for f in np.unique(fold):
        te = fold == f
        bst = xgb.train(params, xgb.DMatrix(X[~te], label=y[~te], nthread=1), num_boost_round=20)
        p[te] = bst.predict(xgb.DMatrix(X[te], nthread=1))
    out = {"seconds": time.perf_counter() - t0, "accuracy": float(((p >= 0.5) == y).mean())}
elif mode == "logreg":
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    t0 = time.perf_counter()
    p = np.zeros(len(y))
    for f in np.unique(fold):
        te = fold == f
        sc = StandardScaler().fit(X[~te])
        m = LogisticRegression(C=1.0, max_iter=1000).fit(sc.transform(X[~te]), y[~te])
        p[te] = m.predict_proba(sc.transform(X[te]))[:, 1]
    out = {"seconds": time.perf_counter() - t0, "accuracy": float(((p >= 0.5) == y).mean())}
print(json.dumps(out))
