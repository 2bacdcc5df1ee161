"""Synthetic data the benchmarks share."""
from __future__ import annotations

import math
import random


def cell_polygons(n: int, rng: random.Random, width: int, height: int, labels: list[str],
                  margin: int = 40) -> list[dict]:
    """n cell-like polygons of 6-14 ragged points (radius 8-35 px) inside a width x height image,
    labels in turn."""
    out = []
    for i in range(n):
        cx, cy = rng.uniform(margin, width - margin), rng.uniform(margin, height - margin)
        r, k = rng.uniform(8, 35), rng.randint(6, 14)
        pts = [[round(cx + r * (0.6 + 0.4 * rng.random()) * math.cos(2 * math.pi * j / k), 2),
                round(cy + r * (0.6 + 0.4 * rng.random()) * math.sin(2 * math.pi * j / k), 2)] for j in range(k)]
        out.append({"id": f"p{i}", "type": "polygon", "label": labels[i % len(labels)], "points": pts,
                    "attributes": {}})
    return out
