"""The Python peer of bench/tpe_bench.sh: Optuna's TPESampler on the same objectives,
search spaces, budgets and seeds as harness's TPE (the C side is in tpe_bench.sh).

Optuna samples lazily inside suggest_*, so the clock runs over ask + objective + tell;
the objectives' own arithmetic takes microseconds against Optuna's milliseconds.
Prints one JSON line: mean best value over the seeds and seconds per trial.

usage: tpe_peer.py OBJECTIVE SEEDS BUDGET [multivariate]"""
import json, math, sys, time
import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)
PENALTY = {"a": 1.0, "b": 0.0, "c": 0.5, "d": 2.0}


def quad(t):
    """Shifted quadratic over 3 continuous (one log), 1 integer, 1 categorical axis; min 0."""
    x1 = t.suggest_float("x1", -5, 5)
    x2 = t.suggest_float("x2", -5, 5)
    x3 = t.suggest_float("x3", 1e-3, 10, log=True)
    n = t.suggest_int("n", 1, 20)
    c = t.suggest_categorical("c", ["a", "b", "c", "d"])
    return (x1 - 1.3) ** 2 + (x2 + 0.7) ** 2 + (math.log10(x3) + 1) ** 2 + 0.1 * (n - 7) ** 2 + PENALTY[c]


def branin(t):
    """Branin on [-5, 10] x [0, 15]; min 0.397887 (three minima)."""
    x = t.suggest_float("x", -5, 10)
    y = t.suggest_float("y", 0, 15)
    b, c, r = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - r) * math.cos(x) + 10


HART_ALPHA = [1.0, 1.2, 3.0, 3.2]
HART_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
HART_P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
          [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]


def hartmann6(t):
    """Hartmann 6-D on [0, 1]^6; min -3.32237 (multimodal)."""
    x = [t.suggest_float("x%d" % j, 0, 1) for j in range(6)]
    return -sum(HART_ALPHA[i] * math.exp(-sum(HART_A[i][j] * (x[j] - HART_P[i][j] * 1e-4) ** 2 for j in range(6)))
                for i in range(4))


def rosenbrock4(t):
    """Rosenbrock 4-D on [-2, 2]^4; min 0 (a curved valley)."""
    x = [t.suggest_float("r%d" % j, -2, 2) for j in range(4)]
    return sum(100 * (x[j + 1] - x[j] ** 2) ** 2 + (1 - x[j]) ** 2 for j in range(3))


BOOSTER = {"gbtree": 0.0, "dart": 0.2, "gblinear": 0.8}
LOSS_BEST, LOSS_NEXT = "huber", "l2"


def gbm_like(t):
    """A model-tuning shape: learning rate x trees trade off (log axes, one integer),
    depth, subsample, and two categoricals; min 0."""
    lr = t.suggest_float("lr", 1e-4, 1, log=True)
    trees = t.suggest_int("trees", 10, 2000, log=True)
    depth = t.suggest_int("depth", 1, 12)
    booster = t.suggest_categorical("booster", ["gbtree", "dart", "gblinear"])
    loss = t.suggest_categorical("loss", ["l2", "l1", "huber", "quantile", "poisson", "gamma"])
    sub = t.suggest_float("sub", 0.3, 1)
    f = (math.log10(lr) + math.log10(trees) - 1.3) ** 2 + 0.3 * (math.log10(trees) - 2.5) ** 2
    f += 0.05 * (depth - 5) ** 2 + 2 * (sub - 0.75) ** 2 + BOOSTER[booster]
    return f + (0.0 if loss == LOSS_BEST else 0.3 if loss == LOSS_NEXT else 0.6)


def run(objective, seeds, budget, multivariate):
    best_sum, clock, trials = 0.0, 0.0, 0
    for seed in range(seeds):
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=multivariate)
        study = optuna.create_study(direction="minimize", sampler=sampler)
        best = math.inf
        for _ in range(budget):
            t0 = time.perf_counter()
            trial = study.ask()
            value = objective(trial)
            study.tell(trial, value)
            clock += time.perf_counter() - t0
            trials += 1
            best = min(best, value)
        best_sum += best
    return best_sum / seeds, clock / trials


if __name__ == "__main__":
    import warnings
    warnings.simplefilter("ignore")  # multivariate=True is flagged experimental
    name, seeds, budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    multivariate = len(sys.argv) > 4 and sys.argv[4] == "multivariate"
    objective = {"quad": quad, "branin": branin, "hartmann6": hartmann6, "rosenbrock4": rosenbrock4,
                 "gbm_like": gbm_like}[name]
    best, per_trial = run(objective, seeds, budget, multivariate)
    print(json.dumps({"objective": name, "optuna": optuna.__version__, "multivariate": multivariate,
                      "mean_best": best, "seconds_per_trial": per_trial}))
