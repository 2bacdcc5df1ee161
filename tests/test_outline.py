"""The extreme-points outline (media/outline.py, issue 18) on synthetic images whose true object
is known: the image-aware fit follows the object better than the octagon through the points."""
from __future__ import annotations

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from media.outline import grabcut_outline, octagon, through_points  # noqa: E402


def _iou(poly, truth: np.ndarray) -> float:
    m = np.zeros(truth.shape, np.uint8)
    cv2.fillPoly(m, [np.round(np.asarray(poly, np.float64)).astype(np.int32)], 1)
    m = m.astype(bool)
    return float((m & truth).sum() / (m | truth).sum())


def _scene(seed: int, angle: float):
    """A tilted ellipse on textured noise; its mask and its four extreme points."""
    rng = np.random.default_rng(seed)
    h, w = 160, 200
    img = np.clip(rng.normal(90, 25, (h, w, 3)), 0, 255).astype(np.uint8)
    truth = np.zeros((h, w), np.uint8)
    cv2.ellipse(truth, (100, 80), (70, 28), angle, 0, 360, 1, -1)
    obj = np.clip(rng.normal(170, 25, (h, w, 3)), 0, 255).astype(np.uint8)
    img[truth > 0] = obj[truth > 0]
    ys, xs = np.nonzero(truth)
    pts = [(xs[np.argmin(ys)], ys.min()), (xs.max(), ys[np.argmax(xs)]),
           (xs[np.argmax(ys)], ys.max()), (xs.min(), ys[np.argmin(xs)])]
    return img, truth.astype(bool), [[float(x), float(y)] for x, y in pts]


@pytest.mark.parametrize("seed,angle", [(0, 0.0), (1, 35.0), (2, -60.0)])
def test_grabcut_outline_follows_an_ellipse_on_noise_better_than_the_octagon(seed, angle):
    img, truth, pts = _scene(seed, angle)
    fitted = grabcut_outline(img, pts)
    assert fitted is not None
    fit, octa = _iou(fitted, truth), _iou(octagon(pts), truth)
    assert fit > 0.85 and fit > octa, (fit, octa)
    # the fit passes through the clicked points (the object's outline does by definition)
    for p in pts:
        assert any(abs(q[0] - p[0]) < 1e-6 and abs(q[1] - p[1]) < 1e-6 for q in fitted), p


def test_grabcut_outline_on_a_grey_image():
    img, truth, pts = _scene(3, 20.0)
    fitted = grabcut_outline(img[..., 0], pts)
    assert fitted is not None and _iou(fitted, truth) > 0.85


def test_through_points_inserts_a_point_into_its_nearest_edge():
    square = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]
    assert through_points(square, [[5.0, -1.0]]) == [[0.0, 0.0], [5.0, -1.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]
    assert through_points(square, [[10.0, 10.0]]) == square  # already a vertex
    assert through_points(square, [[11.0, 11.0]])[2] == [11.0, 11.0]  # nearest to a vertex: moves it
