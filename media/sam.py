"""Segment Anything (SAM: transformers' SamModel and SamProcessor, a registered model folder or
id) for the segmentation tools: the extreme-points outline and click to segment (issue 18).

A `SamSegmenter` is an object, not a module global: each Store holds its own (store.caches.sam).
It loads a model on first use (the last MODELS_KEPT sources stay loaded) and keeps the image
embeddings of the last EMBEDDINGS_KEPT images clicked (the caller names an image by a key: the
model and the sample), so that after the first click on an image (the vision encoder: seconds
on a CPU for a real SAM) each further click runs only the prompt encoder and the mask decoder.
One SAM computation at a time per segmenter (a CPU runs one as fast as two at once); on a
machine with CUDA the model runs there.

Prompts are in the image's pixels (x right, y down): positive points (label 1), negative points
(label 0) and at most one box (x0, y0, x1, y1). Of SAM's three candidate masks the one with the
highest predicted IoU is taken; it is cut to the box when a box was given (the box bounds the
object), and turned into a polygon by media/outline.py's `mask_polygon` (the same code as
GrabCut's result).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Hashable

import numpy as np

from .outline import fits_box, mask_polygon, order_points

EMBEDDINGS_KEPT = 8  # a SAM ViT-B embedding is 4 MB
MODELS_KEPT = 1


@dataclass
class Embedded:
    """An image as SAM saw it: its embedding and the size it was resized to (height, width)."""
    embedding: Any  # torch tensor (1, C, h, w)
    size: tuple[int, int]  # the image's own (height, width)
    resized: tuple[int, int]  # (height, width) as fed to the vision encoder (before padding)


@dataclass
class SamMask:
    """A mask at the size the image was fed to SAM (at most its longest_edge, 1024 px for the
    real models: a 4096 px image is not upscaled to it), and how its pixels map to the image's."""
    mask: np.ndarray  # bool, (height, width) as fed to SAM
    score: float  # SAM's predicted IoU of the mask taken
    scale: tuple[float, float]  # (x, y): image pixels per mask pixel

    def to_mask(self, points: list) -> list[tuple[float, float]]:
        """Image pixels -> mask pixels (pixel centres onto pixel centres)."""
        sx, sy = self.scale
        return [((x + 0.5) / sx - 0.5, (y + 0.5) / sy - 0.5) for x, y in points]

    def to_image(self, points: list) -> list[list[float]]:
        sx, sy = self.scale
        return [[(x + 0.5) * sx - 0.5, (y + 0.5) * sy - 0.5] for x, y in points]


class SamSegmenter:
    """Loaded SAM models and recent image embeddings of one store (see the module doc)."""

    def __init__(self, embeddings_kept: int = EMBEDDINGS_KEPT, models_kept: int = MODELS_KEPT):
        self.embeddings_kept = embeddings_kept
        self.models_kept = models_kept
        self._models: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
        self._embeddings: OrderedDict[tuple[str, Hashable], Embedded] = OrderedDict()
        self._lock = threading.Lock()  # one load or SAM computation at a time

    def has_embedding(self, source: str, key: Hashable) -> bool:
        return (source, key) in self._embeddings

    def _model(self, source: str) -> tuple[Any, Any]:
        """(model, processor) of a SAM folder or id, loaded once (caller holds the lock)."""
        if source in self._models:
            self._models.move_to_end(source)
            return self._models[source]
        import torch
        from transformers import SamModel, SamProcessor

        device = "cuda" if torch.cuda.is_available() else "cpu"
        processor = SamProcessor.from_pretrained(source)
        model = SamModel.from_pretrained(source).to(device).eval()
        self._models[source] = (model, processor)
        while len(self._models) > self.models_kept:
            old, _ = self._models.popitem(last=False)
            for k in [k for k in self._embeddings if k[0] == old]:
                del self._embeddings[k]
        return model, processor

    def _embedded(self, source: str, key: Hashable, image: np.ndarray) -> Embedded:
        """The cached embedding of the image named `key`, or computed now (caller holds the lock)."""
        import torch

        model, processor = self._model(source)
        found = self._embeddings.get((source, key))
        if found is not None and found.size == tuple(image.shape[:2]):
            self._embeddings.move_to_end((source, key))
            return found
        enc = processor(images=_rgb(image), return_tensors="pt")
        with torch.inference_mode():
            embedding = model.get_image_embeddings(enc["pixel_values"].to(model.device))
        resized = tuple(int(v) for v in enc["reshaped_input_sizes"][0].tolist())
        found = Embedded(embedding, tuple(image.shape[:2]), resized)
        self._embeddings[(source, key)] = found
        while len(self._embeddings) > self.embeddings_kept:
            self._embeddings.popitem(last=False)
        return found

    def mask(self, source: str, key: Hashable, image: np.ndarray, positive: list = (), negative: list = (),
             box: tuple | None = None) -> SamMask:
        """SAM's best mask (by its predicted IoU) for the prompts; `image`: H x W (grey) or
        H x W x 3 uint8, the same for every call with one key."""
        import torch

        if not len(positive) and box is None:
            raise ValueError("SAM needs a positive point or a box")
        with self._lock:
            model, processor = self._model(source)
            e = self._embedded(source, key, image)
            h, w = e.size
            sy, sx = e.resized[0] / h, e.resized[1] / w
            kwargs: dict[str, Any] = {}
            points = [(x * sx, y * sy, 1) for x, y in positive] + [(x * sx, y * sy, 0) for x, y in negative]
            if points:
                kwargs["input_points"] = torch.tensor([[[[x, y] for x, y, _ in points]]], dtype=torch.float32)
                kwargs["input_labels"] = torch.tensor([[[lab for _, _, lab in points]]], dtype=torch.long)
            if box is not None:
                x0, y0, x1, y1 = box
                kwargs["input_boxes"] = torch.tensor([[[x0 * sx, y0 * sy, x1 * sx, y1 * sy]]], dtype=torch.float32)
            kwargs = {k: v.to(model.device) for k, v in kwargs.items()}
            with torch.inference_mode():
                out = model(image_embeddings=e.embedding, multimask_output=True, **kwargs)
            scores = out.iou_scores[0, 0].float().cpu()
            best = int(torch.argmax(scores))
            low_res = out.pred_masks[:, :, best:best + 1].float().cpu()  # (image, prompt, mask, 256, 256)
            # padding cut off, at the size fed to SAM (the polygon is scaled to the image's pixels)
            full = processor.image_processor.post_process_masks(low_res, [list(e.resized)], [list(e.resized)])
        return SamMask(full[0][0, 0].numpy().astype(bool), float(scores[best]), (1 / sx, 1 / sy))


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3].astype(np.uint8))


def _inside_box(found: SamMask, box: tuple) -> np.ndarray:
    """The mask with the pixels whose centre is outside the box (x0, y0, x1, y1; image pixels)
    cleared."""
    mask = found.mask
    h, w = mask.shape
    (x0, y0), (x1, y1) = found.to_mask([box[:2], box[2:]])
    keep = np.zeros_like(mask)
    c0, r0 = max(0, int(np.ceil(x0 - 1e-6))), max(0, int(np.ceil(y0 - 1e-6)))
    c1, r1 = min(w, int(np.floor(x1 + 1e-6)) + 1), min(h, int(np.floor(y1 + 1e-6)) + 1)
    keep[r0:r1, c0:c1] = mask[r0:r1, c0:c1]
    return keep


def _clamped(polygon: list, image: np.ndarray) -> list[list[float]]:
    h, w = image.shape[:2]
    return [[round(min(max(x, 0.0), float(w)), 2), round(min(max(y, 0.0), float(h)), 2)] for x, y in polygon]


def sam_outline(segmenter: SamSegmenter, source: str, key: Hashable, image: np.ndarray,
                points: list) -> tuple[list[list[float]] | None, float]:
    """The object's polygon from its four extreme points (image pixels) with SAM: the points are
    positive clicks and their box the box prompt; the mask is cut to the box. (None, score) when
    SAM finds nothing credible there (nothing, or a region whose box misses the points' box by
    more than a quarter, as for GrabCut): the caller falls back to GrabCut."""
    T, R, B, L = order_points(points)
    x0, x1 = min(p[0] for p in (T, R, B, L)), max(p[0] for p in (T, R, B, L))
    y0, y1 = min(p[1] for p in (T, R, B, L)), max(p[1] for p in (T, R, B, L))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None, 0.0
    found = segmenter.mask(source, key, image, [T, R, B, L], (), (x0, y0, x1, y1))
    poly = mask_polygon(_inside_box(found, (x0, y0, x1, y1)), found.to_mask([T, R, B, L]))
    if poly is None:
        return None, found.score
    poly = found.to_image(poly)
    if not fits_box(poly, (x0, y0, x1, y1)):
        return None, found.score
    return _clamped(poly, image), found.score


def sam_segment(segmenter: SamSegmenter, source: str, key: Hashable, image: np.ndarray, positive: list,
                negative: list = (), box: tuple | None = None) -> tuple[list[list[float]] | None, float]:
    """Click to segment: the polygon of the object SAM finds for positive and negative clicks
    (and a box, which also bounds it), in the image's pixels, with SAM's predicted IoU; (None,
    score) when the mask is empty."""
    found = segmenter.mask(source, key, image, positive, negative, box)
    mask = found.mask if box is None else _inside_box(found, box)
    poly = mask_polygon(mask, found.to_mask(list(positive)))
    return (_clamped(found.to_image(poly), image) if poly is not None else None), found.score
