"""autolabel/learn.py (the active-learning algorithms) and the benchmark that simulates a labeler."""
from __future__ import annotations

import json

import numpy as np
import pytest

from store.runs import estimate, suggested_threshold
from autolabel.learn import (STRATEGIES, calibrate_threshold, choose_for_labeling, cluster, cross_val_proba,
                             logistic_c, train_classifier, uncertainty)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Tiny matrices: BLAS threads only contend with each other (and with parallel test workers)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def _blobs(n_per: int = 40, k: int = 3, dim: int = 8, spread: float = 0.3, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = np.eye(k, dim) * 10
    X = np.vstack([c + rng.normal(0, spread, (n_per, dim)) for c in centers]).astype(np.float32)
    y = np.repeat(np.arange(k), n_per)
    return X, y


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_uncertainty_bounds_uniform_and_one_hot(strategy):
    k = 4
    P = np.array([[1 / k] * k, [1, 0, 0, 0], [0.7, 0.1, 0.1, 0.1], [0.4, 0.4, 0.1, 0.1]])
    u = uncertainty(P, strategy)
    assert u.shape == (4,)
    assert np.all(u >= -1e-9) and np.all(u <= 1 + 1e-9)
    assert u[0] == pytest.approx(1.0, abs=1e-6)
    assert u[1] == pytest.approx(0.0, abs=1e-6)
    assert u[1] < u[2] < u[0]


def test_uncertainty_known_values():
    P = np.array([[0.6, 0.3, 0.1]])
    assert uncertainty(P, "least_confidence")[0] == pytest.approx(0.4 * 3 / 2)
    assert uncertainty(P, "margin")[0] == pytest.approx(1 - 0.3)
    expected = -(0.6 * np.log(0.6) + 0.3 * np.log(0.3) + 0.1 * np.log(0.1)) / np.log(3)
    assert uncertainty(P, "entropy")[0] == pytest.approx(expected)
    # a tie between the top two is maximal for margin even when a third class has mass
    assert uncertainty(np.array([[0.45, 0.45, 0.1]]), "margin")[0] == pytest.approx(1.0)
    assert uncertainty(np.ones((3, 1)), "margin").tolist() == [0, 0, 0]
    with pytest.raises(ValueError):
        uncertainty(P, "nonsense")


def test_choose_for_labeling_most_uncertain_first():
    P = np.array([[0.99, 0.01], [0.5, 0.5], [0.8, 0.2], [0.6, 0.4]])
    assert choose_for_labeling(P, "margin", 2).tolist() == [1, 3]
    assert choose_for_labeling(P, "entropy", 10).tolist() == [1, 3, 2, 0]


def test_calibrate_threshold_crafted():
    # confidences 0.99 .. 0.90 right, then 0.85 wrong, 0.80 right, 0.70 wrong
    conf = [0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93, 0.92, 0.91, 0.90, 0.85, 0.80, 0.70]
    right = [1] * 10 + [0, 1, 0]
    P = np.array([[c, 1 - c] for c in conf])
    y = np.array([0 if r else 1 for r in right])
    # >= 0.90: 10/10; >= 0.85: 10/11 = 0.909; >= 0.80: 11/12 = 0.917; >= 0.70: 11/13
    assert calibrate_threshold(P, y, 0.98) == pytest.approx(0.90)
    assert calibrate_threshold(P, y, 0.91) == pytest.approx(0.80)
    assert calibrate_threshold(P, y, 0.5) == pytest.approx(0.70)
    # not enough support for the target: nothing can be accepted
    assert calibrate_threshold(P[:5], y[:5], 0.98) == 1.0
    assert calibrate_threshold(P[:5], y[:5], 0.98, min_support=5) == pytest.approx(0.95)


@pytest.mark.parametrize("head", ["mlp", "logistic"])
def test_train_classifier_fast_and_precise(head):
    X, y = _blobs(n_per=60)
    labels = [f"c{v}" for v in y]
    lab = np.r_[0:5, 60:65, 120:125]
    unl = np.setdiff1d(np.arange(len(y)), lab)
    fast = train_classifier(X[lab], [labels[i] for i in lab], head=head, mode="fast", X_unlabeled=X[unl])
    assert fast.classes == ["c0", "c1", "c2"] and fast.pseudo_labeled == 0
    precise = train_classifier(X[lab], [labels[i] for i in lab], head=head, mode="precise", X_unlabeled=X[unl],
                               pseudo_threshold=0.9)
    assert precise.pseudo_labeled > 0
    for clf in (fast, precise):
        P = clf.predict_proba(X[unl])
        assert P.shape == (len(unl), 3)
        assert np.allclose(P.sum(1), 1)
        assert (P.argmax(1) == y[unl]).mean() > 0.95
    with pytest.raises(ValueError):
        train_classifier(X[lab], [labels[i] for i in lab], mode="slow")


def test_logistic_penalty_per_sample():
    assert logistic_c(10) == 1.0  # a few labels: as before (C=1)
    assert logistic_c(5000) == pytest.approx(0.01)
    assert logistic_c(0) == 1.0


def test_train_classifier_one_class():
    X, _ = _blobs(n_per=5)
    clf = train_classifier(X, ["a"] * len(X))
    assert clf.predict_proba(X).shape == (len(X), 1)


def test_cross_val_proba_shapes():
    X, y = _blobs(n_per=12)
    labels = [f"c{v}" for v in y]
    P, yy = cross_val_proba(X, labels, head="logistic", folds=5)
    assert P.shape == (36, 3) and yy.shape == (36,)
    assert np.allclose(P.sum(1), 1)
    assert (P.argmax(1) == yy).mean() > 0.9
    # too few per class for two folds: uniform, so nothing gets accepted
    P1, y1 = cross_val_proba(X[[0, 12, 13, 24, 25]], ["a", "b", "b", "c", "c"])
    assert np.allclose(P1, 1 / 3) and y1.tolist() == [0, 1, 1, 2, 2]
    assert calibrate_threshold(P1, y1) == 1.0


def test_cluster_recovers_blobs():
    X, y = _blobs(n_per=30, k=4)
    groups = cluster(X, 4)
    assert len(set(groups.tolist())) == 4
    for c in range(4):  # each true group is one cluster
        assert len(set(groups[y == c].tolist())) == 1
    assert cluster(np.zeros((0, 3))).shape == (0,)


def test_benchmark_smoke_on_digits_subset(shared_data, tmp_path):
    from benchmarks.active_learning import main

    out = tmp_path / "al.json"
    result = main(["--dataset", "digits_8x8", "--limit", "300", "--batch", "50", "--max-rounds", "2",
                   "--data", str(shared_data), "--json", str(out)])
    saved = json.loads(out.read_text())
    assert saved["n"] == result["n"] == 300
    for key in ("effort_saved", "final_accuracy", "human_labels", "n", "strategy", "random_effort_saved"):
        assert key in saved
    assert saved["strategy"] == "margin"
    assert 0 <= saved["effort_saved"] <= 1 and 0 <= saved["random_effort_saved"] <= 1
    assert 0 <= saved["final_accuracy"] <= 1
    assert 100 <= saved["human_labels"] <= 300
    assert saved["effort_saved"] == pytest.approx(1 - saved["human_labels"] / 300, abs=1e-4)
    assert (tmp_path / "al.png").stat().st_size > 1000
    assert saved["curves"]["margin"][0][0] == 100  # 10 per class to start


# -- honest thresholds (issue 18) ------------------------------------------------------------------
def test_a_few_right_held_out_samples_do_not_promise_98_percent():
    from autolabel.learn import calibrate, describe_calibration

    # 20 held out, all right: the accuracy seen is 100%, but 20 cannot show 98% (the bound is ~92%)
    conf = np.linspace(0.99, 0.80, 20)
    P = np.array([[c, 1 - c] for c in conf])
    cal = calibrate(P, np.zeros(20, int), 0.98, 10, predicted=np.array([0.95, 0.85, 0.5]))
    assert cal["threshold"] is None and cal["point_threshold"] == 0.80
    assert cal["best_threshold"] == 0.80 and cal["best_accuracy"] == 1.0 and 0.85 < cal["best_lower"] < 0.95
    text = describe_calibration(cal)
    assert "no threshold is shown to reach 98% with 20 held-out labeled samples" in text
    assert "above 0.80, 100% right (20 held-out)" in text and "2 predictions" in text
    assert estimate(cal, 0.9) == (1.0, 1) and estimate(cal, 0.0) == (1.0, 3)
    # 300 held out, 295 right (the wrong ones least confident): 98% is shown, above the wrong ones
    conf = np.linspace(0.999, 0.6, 300)
    P = np.array([[c, 1 - c] for c in conf])
    y = np.zeros(300, int)
    y[-5:] = 1
    cal = calibrate(P, y, 0.98, 10)
    assert cal["threshold"] is not None and conf[-5] < cal["threshold"] <= 0.62
    assert "confirm above" in describe_calibration(cal)
    # nothing held out: nothing to offer
    empty = calibrate(np.zeros((0, 2)), np.zeros(0, int), 0.98, 10)
    assert suggested_threshold(empty) is None and "too few held-out" in describe_calibration(empty)


def test_colour_is_used_only_where_it_tells_the_classes_apart():
    from PIL import Image

    from autolabel.semi import colour_tells

    rng = np.random.default_rng(0)

    def img(color):
        return Image.fromarray(np.full((8, 8, 3), color, np.uint8))

    by_colour = [img((200, 30, 30)) for _ in range(5)] + [img((30, 30, 200)) for _ in range(5)]
    assert colour_tells(by_colour, ["red"] * 5 + ["blue"] * 5)
    random_colours = [img(tuple(int(v) for v in rng.integers(0, 256, 3))) for _ in range(40)]
    assert not colour_tells(random_colours, ["a", "b", "c", "d"] * 10)
    grey = [Image.fromarray(np.full((8, 8), v, np.uint8)).convert("RGB") for v in range(0, 200, 20)]
    assert not colour_tells(grey, ["a", "b"] * 5)


def test_the_semi_supervised_network_learns_digits_from_ten_labels_each(shared_data):
    """A short run of the precise path's learner (autolabel/semi.py) on real handwritten digits:
    10 labels per class, 400 unlabeled; what it learns is measured in full by
    benchmarks/semi_supervised.py (98% on the 1,697 unlabeled digits)."""
    import csv

    from PIL import Image

    from autolabel.semi import train_semi_supervised

    folder = shared_data / "digits_8x8"
    rows = list(csv.DictReader((folder / "labels.csv").open()))[:500]
    images = [Image.open(folder / r["file"]).convert("RGB") for r in rows]
    labels = [r["label"] for r in rows]
    rng = np.random.default_rng(1)
    chosen = sorted(i for c in sorted(set(labels)) for i in rng.choice([j for j, v in enumerate(labels) if v == c],
                                                                      10, replace=False))
    rest = [i for i in range(len(rows)) if i not in set(chosen)]
    steps = []
    res = train_semi_supervised([images[i] for i in chosen], [labels[i] for i in chosen], [images[i] for i in rest],
                                max_steps=150, progress=lambda s, n: steps.append((s, n)))
    assert res.size == 16 and res.channels == 1  # 8x8 grey digits: 16 px, one channel
    assert len(res.holdout_y) == 20 and res.proba.shape == (len(rest), 10)
    assert steps and steps[-1][0] == res.steps <= 150 and 0 < res.best_step <= res.steps
    accuracy = float(np.mean([res.classes[j] == labels[i] for j, i in zip(res.proba.argmax(1), rest)]))
    assert accuracy >= 0.8, accuracy  # a pixel MLP on the same 80 labels is right about 85% of the time (fast mode)
