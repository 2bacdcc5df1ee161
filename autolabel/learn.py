"""The learning part of active learning, on feature vectors: train a classifier ("fast": on the
labeled samples only; "precise": also on confident pseudo-labels of the unlabeled samples),
score uncertainty (least confidence, margin, entropy), calibrate the confidence above which a
prediction can be accepted, find hard examples, and group samples by their embeddings.

Pure numpy/scikit-learn on arrays, so the app's runs (autolabel/active_learning.py) and the
simulation in benchmarks/active_learning.py run exactly the same code.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

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
    `target` of the time on held-out labeled samples. 1.0 when no threshold reaches the target."""
    conf = P.max(1)
    right = P.argmax(1) == y
    order = np.argsort(-conf)
    conf, right = conf[order], right[order]
    acc = np.cumsum(right) / np.arange(1, len(right) + 1)
    ok = np.where((acc >= target) & (np.arange(1, len(right) + 1) >= min_support))[0]
    if not len(ok):
        return 1.0
    return float(conf[ok.max()])


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
