"""The learning part of active learning, on feature vectors: train a classifier ("fast": on the
labeled samples only; "precise": also on confident pseudo-labels of the unlabeled samples),
score uncertainty (least confidence, margin, entropy), calibrate the confidence above which a
prediction can be accepted, find hard examples, and group samples by their embeddings.

Pure numpy/scikit-learn on arrays, so the app's runs (autolabel/active_learning.py) and the
simulation in benchmarks/active_learning.py run exactly the same code.
"""
from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass

import numpy as np

from store.runs import GRID, curve_at, estimate

log = logging.getLogger(__name__)

STRATEGIES = ("least_confidence", "margin", "entropy")
HEADS = ("mlp", "logistic")
# The logistic head runs on pretrained embeddings (hundreds of standardized dimensions). Its L2
# penalty is a fixed weight per sample, LOGISTIC_L2 * ||w||^2 / 2 next to the mean log-loss, i.e.
# scikit-learn's C = 1 / (LOGISTIC_L2 * n), at most 1 (the old fixed C=1.0): a few labels stay
# confidently separable, a few thousand get the strong regularization they need. On SemEval-2010
# Task 8 (all-MiniLM sentence embeddings, 19 classes, 2000 held-out sentences) this gave 38.9% /
# 45.2% accuracy with 2000 / 6000 labels vs 32.8% / 40.3% for C=1.0, and it fits faster.
LOGISTIC_L2 = 0.02


def logistic_c(n: int) -> float:
    return float(min(1.0, 1.0 / (LOGISTIC_L2 * max(1, n))))


@dataclass
class Classifier:
    """A trained classifier over feature vectors; `classes` are label names."""
    model: object
    scaler: object
    classes: list[str]
    head: str
    pseudo_labeled: int = 0

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = self.scaler.transform(np.asarray(X, dtype=np.float32))
        if len(self.classes) == 1:
            return np.ones((len(X), 1))
        return self.model.predict_proba(X)


def _make_head(head: str, seed: int, n: int = 0):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    if head == "logistic":
        return LogisticRegression(C=logistic_c(n), max_iter=2000)
    if head == "mlp":  # a small network trained from scratch
        return MLPClassifier((256,), alpha=1e-3, max_iter=400, random_state=seed)
    raise ValueError(f"unknown head {head!r}: one of {HEADS}")


def _fit(X: np.ndarray, y: np.ndarray, head: str, seed: int, scaler=None):
    from sklearn.preprocessing import StandardScaler

    scaler = scaler or StandardScaler().fit(X)
    model = _make_head(head, seed, len(X))
    with warnings.catch_warnings():  # a few hundred samples rarely converge to the last digit
        warnings.simplefilter("ignore")
        model.fit(scaler.transform(X), y)
    return model, scaler


def train_classifier(X: np.ndarray, labels: list[str], *, head: str = "mlp", mode: str = "fast",
                     X_unlabeled: np.ndarray | None = None, pseudo_threshold: float = 0.95,
                     seed: int = 0) -> Classifier:
    """Train on labeled feature vectors. "precise" adds self-training: unlabeled samples the
    first model predicts with confidence >= pseudo_threshold join the training set with their
    predicted label, and the model is trained again (semi-supervised)."""
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(X, dtype=np.float32)
    classes = sorted(set(labels))
    y = np.array([classes.index(v) for v in labels])
    if len(classes) == 1:
        return Classifier(None, StandardScaler().fit(X), classes, head)
    # one scaler over everything known (labeled + unlabeled): the features' spread, not labels
    fit_on = X if X_unlabeled is None or not len(X_unlabeled) else np.vstack([X, X_unlabeled])
    scaler = StandardScaler().fit(fit_on)
    model, scaler = _fit(X, y, head, seed, scaler)
    clf = Classifier(model, scaler, classes, head)
    if mode == "precise" and X_unlabeled is not None and len(X_unlabeled):
        Xu = np.asarray(X_unlabeled, dtype=np.float32)
        P = clf.predict_proba(Xu)
        keep = P.max(1) >= pseudo_threshold
        if keep.any():
            model, _ = _fit(np.vstack([X, Xu[keep]]), np.concatenate([y, P[keep].argmax(1)]), head, seed, scaler)
            clf = Classifier(model, scaler, classes, head, int(keep.sum()))
    elif mode not in ("fast", "precise"):
        raise ValueError("mode is 'fast' or 'precise'")
    return clf


def uncertainty(P: np.ndarray, strategy: str = "margin") -> np.ndarray:
    """Uncertainty in [0, 1] per row of class probabilities: 1 = as unsure as possible."""
    P = np.clip(np.asarray(P, dtype=np.float64), 1e-12, 1.0)
    k = P.shape[1]
    if k == 1:
        return np.zeros(len(P))
    if strategy == "least_confidence":
        return (1 - P.max(1)) * k / (k - 1)
    if strategy == "margin":
        s = np.sort(P, 1)
        return 1 - (s[:, -1] - s[:, -2])
    if strategy == "entropy":
        return -(P * np.log(P)).sum(1) / np.log(k)
    raise ValueError(f"unknown strategy {strategy!r}: one of {STRATEGIES}")


def uncertainty_reason(p: np.ndarray, classes: list[str], strategy: str, score: float) -> str:
    """Why a sample is hard, in words a labeler understands."""
    order = np.argsort(-p)
    top = f"{classes[order[0]]} {p[order[0]]:.0%}"
    second = f" vs {classes[order[1]]} {p[order[1]]:.0%}" if len(order) > 1 else ""
    return f"{strategy.replace('_', ' ')} {score:.2f}: {top}{second}"


def cross_val_proba(X: np.ndarray, labels: list[str], *, head: str = "mlp", folds: int = 5,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold class probabilities on the labeled samples (for calibration): (P, y)."""
    from sklearn.model_selection import StratifiedKFold

    X = np.asarray(X, dtype=np.float32)
    classes = sorted(set(labels))
    y = np.array([classes.index(v) for v in labels])
    P = np.zeros((len(X), len(classes)))
    per_class = np.bincount(y, minlength=len(classes))
    folds = int(min(folds, per_class.min())) if len(classes) > 1 else 0
    if folds < 2:
        return np.full((len(X), len(classes)), 1 / len(classes)), y
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
        model, scaler = _fit(X[train], y[train], head, seed)
        part = np.zeros((len(test), len(classes)))
        part[:, model.classes_] = model.predict_proba(scaler.transform(X[test]))
        P[test] = part
    return P, y


def calibrate_threshold(P: np.ndarray, y: np.ndarray, target: float = 0.98, min_support: int = 10) -> float:
    """The lowest confidence t such that predictions with confidence >= t were right at least
    `target` of the time on held-out labeled samples (the point estimate). 1.0 when no threshold
    reaches the target. The simulation (benchmarks/active_learning.py) picks hard examples by it;
    what a run offers a person is `calibrate`'s, which asks for more evidence."""
    t = calibrate(P, y, target, min_support)["point_threshold"]
    return 1.0 if t is None else float(t)


Z = 1.2816  # one-sided 90%: the accuracy a threshold is credited with is its lower bound


def lower_bound(right: int, n: int, z: float = Z) -> float:
    """Wilson score lower bound of an accuracy of right/n (0 for n = 0)."""
    if n <= 0:
        return 0.0
    p = right / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z * z / n))


def calibrate(P: np.ndarray, y: np.ndarray, target: float = 0.98, min_support: int = 10,
              predicted: np.ndarray | None = None) -> dict:
    """What confirming predictions above a confidence threshold is worth, measured on held-out
    labeled samples (P: their class probabilities, y: their classes), as a JSON-able record.
    A threshold is credited with the lower bound of its held-out accuracy (Wilson, 90%), so a
    handful of held-out samples that happen to be right do not promise 98%:

    - "threshold": the lowest t whose held-out predictions above it (at least `min_support`)
      are right at least `target` of the time by that bound; None when none is (a small
      held-out set cannot show 98%: all of about 130 right are needed);
    - "best_threshold", "best_accuracy", "best_lower": where the bound is highest (the lowest
      such t), the accuracy seen there and its bound: what to offer when the target is out of
      reach;
    - "point_threshold": the lowest t where the accuracy seen reaches the target (no bound);
    - "curve": per threshold 0.00 .. 1.00, [accuracy seen above it (None under `min_support`),
      how many held-out predictions are above it, the bound];
    - "predicted": per threshold bin, how many of the run's predictions (`predicted`: their
      confidences) fall in [t, t + 0.01): the human labels a threshold saves.
    Thresholds are cut at a held-out prediction's confidence and rounded down to 0.01 (up where
    the held-out predictions above the rounded-down value no longer pass); every figure offered
    is read from the curve at the threshold offered.
    """
    conf = np.asarray(P, dtype=np.float64).max(1) if len(P) else np.zeros(0)
    right = (np.asarray(P).argmax(1) == np.asarray(y)) if len(P) else np.zeros(0, bool)
    grid = np.round(np.arange(GRID + 1) / GRID, 2)
    curve = []
    for t in grid:
        above = conf >= t - 1e-9
        n, r = int(above.sum()), int(right[above].sum())
        curve.append([round(r / n, 4) if n >= min_support else None, n, round(lower_bound(r, n), 4)])
    order = np.argsort(-conf, kind="stable")
    c, r = conf[order], right[order]
    n = np.arange(1, len(c) + 1)
    hits = np.cumsum(r)
    acc = hits / n if len(c) else np.zeros(0)
    lb = np.array([lower_bound(int(h), int(k)) for h, k in zip(hits, n)])
    supported = n >= min_support

    def cut(i: int, ok) -> float | None:
        """The threshold keeping (about) the i+1 most confident: its confidence rounded down to
        0.01 where the held-out predictions above that still pass `ok`, else rounded up."""
        for t in (math.floor(float(c[i]) * GRID + 1e-9) / GRID, math.ceil(float(c[i]) * GRID - 1e-9) / GRID):
            t = float(min(1.0, t))
            if ok(curve[int(round(t * GRID))]):
                return t
        return None

    def shown(e):
        return e[0] is not None and e[2] >= target - 1e-12

    def seen(e):
        return e[0] is not None and e[0] >= target - 1e-12

    point = np.flatnonzero(supported & (acc >= target - 1e-12))
    sure = np.flatnonzero(supported & (lb >= target - 1e-12))
    best = max(((round(float(lb[i]), 4), i) for i in np.flatnonzero(supported)), default=None)
    best_t = cut(best[1], lambda e: e[0] is not None) if best else None
    at_best = curve[int(round(best_t * GRID))] if best_t is not None else None
    out = {"target": target, "held_out": int(len(conf)), "min_support": min_support,
           "threshold": cut(sure.max(), shown) if len(sure) else None,
           "best_threshold": best_t,
           "best_accuracy": at_best[0] if at_best else None,
           "best_lower": at_best[2] if at_best else None,
           "point_threshold": cut(point.max(), seen) if len(point) else None,
           "curve": curve}
    if predicted is not None:
        bins = np.clip(np.floor(np.asarray(predicted, dtype=np.float64) * GRID + 1e-9), 0, GRID).astype(int)
        out["predicted"] = np.bincount(bins, minlength=GRID + 1).tolist()
    return out


def describe_calibration(cal: dict | None) -> str:
    """In words: where to confirm, or that no threshold is shown to reach the target and what is
    reachable."""
    if not cal:
        return ""
    target = f"{cal['target']:.0%}"
    if cal.get("threshold") is not None:
        _acc, n = estimate(cal, cal["threshold"])
        saved = f", {n:,} predictions (human labels saved)" if n is not None else ""
        return f"confirm above {cal['threshold']:.2f} for at least {target} accuracy{saved}"
    if cal.get("best_accuracy") is None:
        return (f"too few held-out labeled samples ({cal['held_out']}) to estimate an accuracy: "
                f"label more before confirming")
    t = cal["best_threshold"]
    entry = curve_at(cal, t)
    seen, n_above = cal["best_accuracy"], (entry[1] if entry else None)
    _acc, n = estimate(cal, t)
    saved = f", {n:,} predictions" if n is not None else ""
    support = f" ({n_above} held-out)" if n_above else ""
    return (f"no threshold is shown to reach {target} with {cal['held_out']} held-out labeled samples; "
            f"the best: above {t:.2f}, {seen:.0%} right{support}, at least {cal['best_lower']:.0%} "
            f"(90% confidence){saved}")


def choose_for_labeling(P: np.ndarray, strategy: str, n: int) -> np.ndarray:
    """Indices of the n rows most worth a human label (highest uncertainty first)."""
    return np.argsort(-uncertainty(P, strategy), kind="stable")[:n]


def cluster(X: np.ndarray, k: int | None = None, seed: int = 0) -> np.ndarray:
    """Group feature vectors (F4.7): k-means on standardized embeddings; k defaults to about
    sqrt(n/2), at most 50."""
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(X, dtype=np.float32)
    if len(X) == 0:
        return np.zeros(0, dtype=int)
    k = int(k or max(2, min(50, round((len(X) / 2) ** 0.5))))
    k = max(1, min(k, len(X)))
    return KMeans(k, n_init=4, random_state=seed).fit_predict(StandardScaler().fit_transform(X))
