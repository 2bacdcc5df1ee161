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


def tracking_clip(path, frames: int = 100, size: tuple[int, int] = (480, 272), seed: int = 0,
                  fps: int = 25) -> list[list[float]]:
    """An H.264 MP4 at `path`: a textured object that moves along a curve, grows and shrinks, and
    passes behind a half-transparent bar that crosses the picture, over a textured background
    with two other moving shapes. Returns the object's true box [x1, y1, x2, y2] on each frame."""
    import av
    import numpy as np

    rng = np.random.default_rng(seed)
    w, h = size
    noise = rng.integers(0, 255, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
    background = np.kron(noise, np.ones((8, 8, 1), dtype=np.uint8))[:h, :w].astype(np.float32) * 0.5 + 40
    texture = rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)
    texture[::3] = (230, 40, 40)
    truth = []
    with av.open(str(path), "w", format="mp4") as c:
        st = c.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.options = {"crf": "20", "preset": "veryfast"}
        for f in range(frames):
            t = f / max(1, frames - 1)
            img = background.copy()
            for k, (dx, dy) in enumerate(((1.0, 0.4), (-0.7, 0.9))):  # distractors
                cx = int((0.2 + 0.6 * ((t * dx + 0.3 * k) % 1.0)) * w)
                cy = int((0.2 + 0.6 * ((t * dy + 0.5 * k) % 1.0)) * h)
                img[max(0, cy - 10):cy + 10, max(0, cx - 14):cx + 14] = (40, 200 - 60 * k, 220)
            bw, bh = 56 * (1 + 0.35 * math.sin(2 * math.pi * t)), 40 * (1 + 0.35 * math.sin(2 * math.pi * t))
            cx = w * (0.2 + 0.6 * t)
            cy = h * (0.5 + 0.25 * math.sin(3 * math.pi * t))
            x1, y1 = int(round(cx - bw / 2)), int(round(cy - bh / 2))
            x2, y2 = int(round(cx + bw / 2)), int(round(cy + bh / 2))
            patch = np.kron(texture, np.ones((8, 8, 1), dtype=np.uint8))
            ys = np.linspace(0, patch.shape[0] - 1, y2 - y1).astype(int)
            xs = np.linspace(0, patch.shape[1] - 1, x2 - x1).astype(int)
            img[y1:y2, x1:x2] = patch[ys][:, xs]
            bar = int(w * (0.9 - 0.8 * t))  # crosses the object's path about halfway
            img[:, max(0, bar - 12):bar + 12] = img[:, max(0, bar - 12):bar + 12] * 0.45 + 120
            truth.append([float(x1), float(y1), float(x2), float(y2)])
            frame = av.VideoFrame.from_ndarray(np.clip(img, 0, 255).astype(np.uint8), format="rgb24")
            for p in st.encode(frame):
                c.mux(p)
        for p in st.encode():
            c.mux(p)
    return truth
