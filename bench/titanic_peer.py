"""The Titanic pipeline of examples/demo.sh, done with pandas + scikit-learn + xgboost.

Same data, cleaning, exclusions, 5-fold stratified CV, model settings, one thread.
Prints one JSON line: {"seconds": ..., "accuracy": ..., "brier": ...} for the average
of the three models' out-of-fold probabilities."""
import json, sys, time

t0 = time.perf_counter()
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from xgboost import XGBClassifier

df = pd.read_csv(sys.argv[1], keep_default_na=False, na_values=[""])
df["fare"] = df["fare"].fillna(df["fare"].median())
df["country"] = df["country"].fillna("unknown")
y = df["survived"].to_numpy()
text = ["gender", "class", "embarked", "country"]
num = ["age", "fare", "sibsp", "parch"]
X = df[text + num].copy()
for c in text:
    X[c] = X[c].astype("category")

common = dict(n_estimators=200, learning_rate=0.05, subsample=0.8, colsample_bytree=0.8, tree_method="hist",
              enable_categorical=True, n_jobs=1, random_state=42, verbosity=0)
models = {
    "xgb": lambda: XGBClassifier(max_depth=3, **common),
    "lgb": lambda: XGBClassifier(grow_policy="lossguide", max_leaves=15, max_depth=0, **common),
    "logreg": lambda: make_pipeline(
        ColumnTransformer([("t", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5), text),
                           ("n", SimpleImputer(strategy="median"), num)]),
        StandardScaler(with_mean=False), LogisticRegression(C=1.0, max_iter=1000)),
}
oof = np.zeros((len(models), len(y)))
for tr, te in StratifiedKFold(5, shuffle=True, random_state=42).split(X, y):
    for i, make in enumerate(models.values()):
        m = make().fit(X.iloc[tr], y[tr])
        oof[i, te] = m.predict_proba(X.iloc[te])[:, 1]
p = oof.mean(axis=0)
print(json.dumps({"seconds": time.perf_counter() - t0, "accuracy": float(((p >= 0.5) == y).mean()),
                  "brier": float(((p - y) ** 2).mean())}))
