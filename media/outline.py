"""An object's outline from its four extreme points (issue 18): the image-aware proposal of the
segmentation canvas's extreme-points tool, and the octagon it falls back to.

`octagon(points)` is the proposal that does not look at the image (the same as the canvas's own,
assets/shape_canvas.js proposeOutline): a short segment along each side of the points' box,
centred on the extreme point.

`grabcut_outline(image, points)` fits the object with OpenCV's GrabCut (no model weights): on a
crop around the points' box, lightly smoothed (Gaussian, SMOOTH px: GrabCut's colour models then
see the regions rather than the pixel noise), outside the box is background; inside it, the
region enclosed by the likeliest outline through the points is probably object and the rest of
the box probably background. That outline (`edge_outline`) joins each two consecutive extreme
points by the cheapest path over the image's edges within the rectangle they span (Dijkstra, a
step costs less where the gradient is strong), as in extreme clicking (Papadopoulos et al. 2017);
the octagon stands in for it without scipy. Sure object are a small disc at each extreme point,
the segments from the points towards the box's centre (from 15% to half way), and the octagon
shrunk to 30% around the centre.
The object is the largest connected region of the result touching the extreme points; its
outer contour, simplified (Douglas-Peucker, about 1% of the box's size), is the polygon
(`mask_polygon`, which SAM's masks go through too: media/sam.py), made to pass through the four
extreme points (`through_points`: the true outline does by definition). None
when the fit is not credible (nothing found, or a region whose box misses the points' box by
more than a quarter of its size): the canvas then keeps the octagon.
On the cells benchmark (benchmarks/extreme_points.py, 1218 objects): mean IoU 0.805 (median
0.847) against the octagon's 0.714; before the smoothing and the edge outline 0.784 (0.821).
"""
from __future__ import annotations

import itertools
import math

import numpy as np

MAX_SIDE = 320  # the crop is downscaled to at most this many pixels a side (speed)
ITERATIONS = 4
CORE = 0.3  # the octagon shrunk to this share towards the box's centre is sure object
SMOOTH = 1.25  # Gaussian sigma (working pixels) of the de-noising before the fit
EPS = 0.01  # the polygon's simplification: this share of the box's longer side (at least 0.4 px)


def order_points(points: list) -> tuple:
    """The four clicks as (top, right, bottom, left), whatever order they came in."""
    best, score = None, -math.inf
    for T, R, B, L in itertools.permutations([(float(x), float(y)) for x, y in points]):
        s = -T[1] + R[0] + B[1] - L[0]
        if s > score:
            best, score = (T, R, B, L), s
    return best


def octagon(points: list) -> list[list[float]]:
    T, R, B, L = order_points(points)
    x0, x1 = min(p[0] for p in (T, R, B, L)), max(p[0] for p in (T, R, B, L))
    y0, y1 = min(p[1] for p in (T, R, B, L)), max(p[1] for p in (T, R, B, L))
    w8, h8 = (x1 - x0) / 8, (y1 - y0) / 8

    def cx(v):
        return min(max(v, x0), x1)

    def cy(v):
        return min(max(v, y0), y1)

    out = [[cx(T[0] - w8), y0], [T[0], y0], [cx(T[0] + w8), y0],
           [x1, cy(R[1] - h8)], [x1, R[1]], [x1, cy(R[1] + h8)],
           [cx(B[0] + w8), y1], [B[0], y1], [cx(B[0] - w8), y1],
           [x0, cy(L[1] + h8)], [x0, L[1]], [x0, cy(L[1] - h8)]]
    pts: list[list[float]] = []
    for p in out:
        if not pts or math.hypot(p[0] - pts[-1][0], p[1] - pts[-1][1]) > 0.01:
            pts.append(p)
    if len(pts) > 1 and math.hypot(pts[0][0] - pts[-1][0], pts[0][1] - pts[-1][1]) <= 0.01:
        pts.pop()
    return pts


def grabcut_outline(image: np.ndarray, points: list) -> list[list[float]] | None:
    """The object's polygon (image pixels) from its extreme points, or None (see the module doc).
    `image`: H x W (grey) or H x W x 3 (RGB) uint8."""
    import cv2

    T, R, B, L = order_points(points)
    h_img, w_img = image.shape[:2]
    x0, x1 = min(L[0], T[0], B[0], R[0]), max(R[0], T[0], B[0], L[0])
    y0, y1 = min(T[1], L[1], R[1], B[1]), max(B[1], L[1], R[1], T[1])
    bw, bh = x1 - x0, y1 - y0
    if bw < 2 or bh < 2:
        return None
    margin = max(4.0, 0.15 * max(bw, bh))
    cx0, cy0 = int(max(0, math.floor(x0 - margin))), int(max(0, math.floor(y0 - margin)))
    cx1, cy1 = int(min(w_img, math.ceil(x1 + margin) + 1)), int(min(h_img, math.ceil(y1 + margin) + 1))
    crop = image[cy0:cy1, cx0:cx1]
    if crop.ndim == 2:
        crop = np.repeat(crop[..., None], 3, axis=2)
    crop = np.ascontiguousarray(crop[..., :3].astype(np.uint8))
    scale = min(1.0, MAX_SIDE / max(crop.shape[:2]))
    if scale < 1.0:
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)

    crop = cv2.GaussianBlur(crop, (0, 0), SMOOTH)

    def local(p):
        return ((p[0] - cx0) * scale, (p[1] - cy0) * scale)

    mask = np.full(crop.shape[:2], cv2.GC_BGD, np.uint8)
    bx0, by0 = local((x0, y0))
    bx1, by1 = local((x1, y1))
    cv2.rectangle(mask, (int(math.floor(bx0)), int(math.floor(by0))), (int(math.ceil(bx1)), int(math.ceil(by1))),
                  int(cv2.GC_PR_BGD), -1)
    oct_local = np.array([local(p) for p in octagon([T, R, B, L])], np.float32)
    outline = edge_outline(crop, [local(p) for p in (T, R, B, L)])
    if outline is None:
        outline = np.round(oct_local).astype(np.int32)
    cv2.fillPoly(mask, [outline], int(cv2.GC_PR_FGD))
    centre = ((bx0 + bx1) / 2, (by0 + by1) / 2)
    core = np.array([(centre[0] + CORE * (x - centre[0]), centre[1] + CORE * (y - centre[1])) for x, y in oct_local])
    cv2.fillPoly(mask, [np.round(core).astype(np.int32)], int(cv2.GC_FGD))
    r = max(1, int(round(0.03 * max(bx1 - bx0, by1 - by0))))
    for p in (T, R, B, L):
        q = local(p)
        inner = (q[0] + 0.5 * (centre[0] - q[0]), q[1] + 0.5 * (centre[1] - q[1]))
        start = (q[0] + 0.15 * (centre[0] - q[0]), q[1] + 0.15 * (centre[1] - q[1]))
        cv2.line(mask, (int(round(start[0])), int(round(start[1]))), (int(round(inner[0])), int(round(inner[1]))),
                 int(cv2.GC_FGD), max(1, r))
        cv2.circle(mask, (int(round(q[0])), int(round(q[1]))), r, int(cv2.GC_FGD), -1)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(crop, mask, None, bgd, fgd, ITERATIONS, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return None
    fg = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD))
    poly = mask_polygon(fg, [local(p) for p in (T, R, B, L)], max(0.4, EPS * max(bx1 - bx0, by1 - by0)))
    if poly is None:
        return None
    out = [[round(cx0 + x / scale, 2), round(cy0 + y / scale, 2)] for x, y in poly]
    if not fits_box(out, (x0, y0, x1, y1)):
        return None
    out = through_points(out, [T, R, B, L])
    return [[min(max(x, 0.0), float(w_img)), min(max(y, 0.0), float(h_img))] for x, y in out]


def through_points(polygon: list, points: list) -> list[list[float]]:
    """The polygon made to pass through each extreme point (the object's outline does, by
    definition): a point not already a vertex is inserted into the edge nearest to it."""
    out = [list(p) for p in polygon]
    for px, py in points:
        best, where = math.inf, None
        for i, (a, b) in enumerate(zip(out, out[1:] + out[:1])):
            dx, dy = b[0] - a[0], b[1] - a[1]
            t = 0.0 if dx == dy == 0 else ((px - a[0]) * dx + (py - a[1]) * dy) / (dx * dx + dy * dy)
            t = min(1.0, max(0.0, t))
            d = math.hypot(a[0] + t * dx - px, a[1] + t * dy - py)
            if d < best:
                best, where = d, (i, t)
        i, t = where
        if best < 1e-6:
            continue
        if t <= 0.0:
            out[i] = [round(px, 2), round(py, 2)]
        elif t >= 1.0:
            out[(i + 1) % len(out)] = [round(px, 2), round(py, 2)]
        else:
            out.insert(i + 1, [round(px, 2), round(py, 2)])
    return out


def edge_outline(crop: np.ndarray, points: list) -> np.ndarray | None:
    """The likeliest outline through the extreme points (crop pixels, in the order top, right,
    bottom, left), an int32 contour: between each two consecutive points, the cheapest 8-connected
    path inside the rectangle the two span, a step costing less the stronger the image's edges
    there (Sobel gradient, relative to the crop's 95th percentile). None without scipy."""
    import cv2
    try:
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import dijkstra
    except ImportError:  # pragma: no cover - scipy comes with scikit-learn
        return None

    grey = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    grey = grey.astype(np.float32)
    g = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    cost = 1.0 / (0.05 + np.minimum(g / (np.percentile(g, 95) + 1e-6), 1.0))
    H, W = cost.shape
    out: list = []
    for a, b in zip(points, points[1:] + points[:1]):
        ax, ay = min(W - 1, max(0, int(round(a[0])))), min(H - 1, max(0, int(round(a[1]))))
        bx, by = min(W - 1, max(0, int(round(b[0])))), min(H - 1, max(0, int(round(b[1]))))
        x0, y0 = min(ax, bx), min(ay, by)
        c = cost[y0:max(ay, by) + 1, x0:max(ax, bx) + 1]
        h, w = c.shape
        idx = np.arange(h * w).reshape(h, w)
        rows, cols, weights = [], [], []
        for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
            xa, xb = max(0, -dx), w - max(0, dx)
            if h - dy <= 0 or xb <= xa:
                continue
            i, j = idx[:h - dy, xa:xb].ravel(), idx[dy:, xa + dx:xb + dx].ravel()
            wt = 0.5 * (c[:h - dy, xa:xb].ravel() + c[dy:, xa + dx:xb + dx].ravel()) * math.hypot(dx, dy)
            rows += [i, j]
            cols += [j, i]
            weights += [wt, wt]
        src, dst = int(idx[ay - y0, ax - x0]), int(idx[by - y0, bx - x0])
        if not rows or src == dst:
            out.append((ax, ay))
            continue
        graph = coo_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(h * w, h * w)).tocsr()
        _, pred = dijkstra(graph, indices=src, return_predecessors=True)
        seq, k = [], dst
        while k >= 0 and k != src:
            seq.append(k)
            k = int(pred[k])
        seq.append(src)
        out += [(x0 + q % w, y0 + q // w) for q in reversed(seq[1:])]
    return np.array(out, np.int32).reshape(-1, 1, 2) if len(out) >= 3 else None


def mask_polygon(mask: np.ndarray, seeds: list = (), eps: float | None = None) -> list[list[float]] | None:
    """The polygon of a binary mask's object (the mask's pixels, x right, y down): the largest
    8-connected region among those under a seed point (x, y), or the largest of all when no seed
    falls on one; its outer contour simplified (Douglas-Peucker) by `eps` pixels (default: EPS of
    the region's longer side, at least 0.4 px). None when the mask is empty or the polygon has
    fewer than 3 points. GrabCut's result (above) and SAM's masks (media/sam.py) both end here."""
    import cv2

    fg = np.ascontiguousarray(mask, dtype=np.uint8)
    if fg.ndim != 2 or not fg.any():
        return None
    n, comp = cv2.connectedComponents(fg, connectivity=8)
    if n <= 1:
        return None
    h, w = comp.shape
    under = [comp[min(h - 1, max(0, int(round(y)))), min(w - 1, max(0, int(round(x))))] for x, y in seeds]
    under = [s for s in under if s]
    sizes = np.bincount(comp.ravel(), minlength=n)
    keep = max(set(under), key=lambda s: sizes[s]) if under else int(np.argmax(sizes[1:]) + 1)
    region = (comp == keep).astype(np.uint8)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    c = max(contours, key=cv2.contourArea)
    if eps is None:
        _, _, cw, ch = cv2.boundingRect(c)
        eps = max(0.4, EPS * max(cw, ch))
    poly = cv2.approxPolyDP(c, eps, True).reshape(-1, 2).astype(np.float64)
    if len(poly) < 3:
        return None
    return [[float(x), float(y)] for x, y in poly]


def fits_box(polygon: list, box: tuple) -> bool:
    """A fit is credible when its bounding box misses the extreme points' box (x0, y0, x1, y1) by
    at most a quarter of that box's size on each axis."""
    x0, y0, x1, y1 = box
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    off = (max(abs(min(xs) - x0), abs(max(xs) - x1)) / max(x1 - x0, 1e-9),
           max(abs(min(ys) - y0), abs(max(ys) - y1)) / max(y1 - y0, 1e-9))
    return max(off) <= 0.25
