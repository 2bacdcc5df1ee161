"""Semi-supervised image classification without a pretrained backbone (issue 18): the "precise"
active-learning path for image jobs when no backbone is registered.

A small CNN, sized for the images (16 or 24 px a side), in colour only where the labeled images'
colours tell their classes apart (else grey: with a few labels a network learns whatever colours
it sees; `colour_tells`), each image standardized on its own, is trained FixMatch-style from a
few labels and many unlabeled images:

- each step takes a batch of labeled images under a weak augmentation (small shifts, rotations
  and scale changes) and a larger batch of unlabeled images twice: once weakly augmented, whose
  prediction becomes a pseudo-label where it is confident (>= PSEUDO_THRESHOLD), once strongly
  augmented (larger shifts, rotations and scale changes, contrast, noise, a cut-out square),
  trained to give that pseudo-label (cross-entropy, masked by the confidence);
- no flips (a flipped digit or letter is another thing), nothing tuned to one data set;
- a part of the labeled images (HOLDOUT of each class, at least one where a class has three or
  more) is held out: an exponential moving average of the weights is scored on it every
  EVAL_EVERY steps; training stops when it has not improved for PATIENCE evaluations (after a
  third of the planned steps), at the planned steps (EPOCHS passes over the unlabeled images,
  between MIN_STEPS and MAX_STEPS) or at the time budget, and the best average is kept. The held-out predictions calibrate the confidence
  threshold of the run (autolabel/learn.py calibrate_threshold).

Pure torch on arrays: the app's run (autolabel/active_learning.py) and the benchmark
(benchmarks/semi_supervised.py) call the same `train_semi_supervised`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image

PSEUDO_THRESHOLD = 0.95
HOLDOUT = 0.2
EVAL_EVERY = 25
PATIENCE = 8
MAX_STEPS = 1500  # at most; fewer for a small job: EPOCHS passes over the unlabeled images, at least MIN_STEPS
EPOCHS = 60
MIN_STEPS = 100
TIME_BUDGET_S = 120.0
MAX_UNLABELED_TRAIN = 20000  # unlabeled images trained on (all are predicted)
SIZES = (16, 24)  # larger images are worked on at 24 px: a CPU minute or two


@dataclass
class SemiResult:
    classes: list[str]
    proba: np.ndarray  # (pending, classes): the predictions for the unlabeled images
    holdout_proba: np.ndarray  # (held out, classes): for calibration
    holdout_y: np.ndarray
    steps: int = 0
    best_step: int = 0
    pseudo_share: float = 0.0  # of the unlabeled training images, the share above the threshold at the end
    size: int = 16
    channels: int = 1
    seconds: float = 0.0

    @property
    def holdout_accuracy(self) -> float | None:
        if not len(self.holdout_y):
            return None
        return float((self.holdout_proba.argmax(1) == self.holdout_y).mean())

    def describe(self) -> str:
        return (f"semi-supervised small CNN (FixMatch-style, {self.size}x{self.size} "
                f"{'grey' if self.channels == 1 else 'colour'} pixels, no pretrained backbone)")


def image_size(images: list[Image.Image]) -> int:
    """The side the network works at: the images' median longer side, rounded up to 16 or 24 (at most 24)."""
    sides = sorted(max(im.size) for im in images) or [16]
    median = sides[len(sides) // 2]
    return next((s for s in SIZES if median <= s), SIZES[-1])


def colour_tells(images: list[Image.Image], labels: list[str]) -> bool:
    """Whether colour says something about the class: the labeled images' mean chromaticity
    alone finds the class of each (leave one out, nearest neighbour) clearly more often than
    chance. Where it does not (colours at random, or grey images), the network works on grey:
    with a few labels it would otherwise learn the colours."""
    if len(images) < 4 or len(set(labels)) < 2:
        return False
    feats = []
    for im in images:
        a = np.asarray(im.convert("RGB").resize((16, 16), Image.BILINEAR), dtype=np.float32) + 1.0
        chroma = a / a.sum(-1, keepdims=True)
        feats.append(np.concatenate([chroma.mean((0, 1)), chroma.std((0, 1))]))
    X = np.stack(feats)
    # grey images (in a colour job: greyscale files) say nothing of colour: judge on the others
    coloured = (np.abs(X[:, :3] - 1 / 3).max(1) > 0.02) | (X[:, 3:].max(1) > 0.02)
    X, y = X[coloured], np.array(labels)[coloured]
    if len(X) < 4 or len(set(y.tolist())) < 2:
        return False  # (nearly) every image grey
    d = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    acc = float((y[d.argmin(1)] == y).mean())
    chance = float(max(np.mean(y == c) for c in set(y.tolist())))
    return acc >= chance + 0.5 * (1 - chance)


def to_arrays(images: list[Image.Image], size: int, grey: bool) -> np.ndarray:
    """(N, C, size, size) float32 in [0, 1]: one channel (luminance) when `grey`, else RGB."""
    rgb = [np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.float32) / 255
           for im in images]
    if not rgb:
        return np.zeros((0, 1 if grey else 3, size, size), np.float32)
    arr = np.stack(rgb)
    arr = (arr @ np.array([0.299, 0.587, 0.114], np.float32))[..., None] if grey else arr
    return np.ascontiguousarray(arr.transpose(0, 3, 1, 2))


def _network(channels: int, classes: int, width: int = 16):
    import torch.nn as nn

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    return nn.Sequential(*block(channels, width), *block(width, width), nn.MaxPool2d(2),
                         *block(width, 2 * width), *block(2 * width, 2 * width), nn.MaxPool2d(2),
                         *block(2 * width, 4 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Dropout(0.25), nn.Linear(4 * width, classes))


def _affine(x, gen, rotate: float, shift: float, scale: float):
    """A random rotation (degrees), shift (share of the side) and scale per image."""
    import torch
    import torch.nn.functional as F

    n = x.shape[0]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(rotate)
    s = 1 + (torch.rand(n, generator=gen) * 2 - 1) * scale
    t = (torch.rand(n, 2, generator=gen) * 2 - 1) * shift * 2  # affine_grid works on [-1, 1]
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
    theta = torch.stack([torch.stack([cos, -sin, t[:, 0]], 1), torch.stack([sin, cos, t[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


def weak(x, gen):
    return _affine(x, gen, rotate=10, shift=0.125, scale=0.1)


def strong(x, gen):
    import torch

    n, _c, h, w = x.shape
    x = _affine(x, gen, rotate=25, shift=0.2, scale=0.2)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = 0.6 + torch.rand(n, 1, 1, 1, generator=gen) * 0.8
    bright = (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * 0.2
    x = (x - mean) * contrast + mean + bright
    x = x + torch.randn(x.shape, generator=gen) * 0.05
    side = max(2, int(h * 0.4))  # a cut-out square, anywhere (also partly outside)
    ys = torch.randint(-side // 2, h - side // 2, (n,), generator=gen)
    xs = torch.randint(-side // 2, w - side // 2, (n,), generator=gen)
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    cut = ((rows >= ys.view(n, 1, 1)) & (rows < ys.view(n, 1, 1) + side)
           & (cols >= xs.view(n, 1, 1)) & (cols < xs.view(n, 1, 1) + side))
    return torch.where(cut.unsqueeze(1), mean.expand_as(x), x)


def _holdout(y: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Indices held out: `share` of each class with three or more labels (at least one)."""
    out = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) >= 3:
            out.extend(rng.choice(idx, max(1, int(round(share * len(idx)))), replace=False).tolist())
    return np.array(sorted(out), dtype=int)


def planned_steps(unlabeled: int, batch: int = 32, mu: int = 3) -> int:
    return int(min(MAX_STEPS, max(MIN_STEPS, math.ceil(EPOCHS * unlabeled / max(1, mu * batch)))))


def train_semi_supervised(labeled: list[Image.Image], labels: list[str], unlabeled: list[Image.Image], *,
                          seed: int = 0, time_budget: float = TIME_BUDGET_S, max_steps: int | None = None,
                          device: str = "cpu", progress: Callable[[int, int], None] | None = None) -> SemiResult:
    """Train on the labeled images (a share held out) and the unlabeled ones; predict the unlabeled."""
    import copy

    import torch
    import torch.nn.functional as F

    started = time.monotonic()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    classes = sorted(set(labels))
    y_all = np.array([classes.index(v) for v in labels])
    size = image_size(labeled + unlabeled[:2000])
    grey = not colour_tells(labeled, labels)
    X_lab = to_arrays(labeled, size, grey)
    X_unl = to_arrays(unlabeled, size, grey)
    std = float(np.concatenate([X_lab.ravel()[:10**6], X_unl.ravel()[:10**6]]).std()) or 1.0
    k = len(classes)
    result = SemiResult(classes, np.zeros((len(X_unl), k)), np.zeros((0, k)), np.zeros(0, int), size=size,
                        channels=X_lab.shape[1])
    if k == 1:
        result.proba = np.ones((len(X_unl), 1))
        return result
    held = _holdout(y_all, HOLDOUT, rng)
    train_idx = np.setdiff1d(np.arange(len(y_all)), held)
    dev = torch.device(device)

    def tensor(a):
        # each image standardized on its own: what a shape or a stroke is stays, the background's
        # colour and the contrast go (the data set's own mean and spread where an image is flat)
        m = a.mean(axis=(1, 2, 3), keepdims=True)
        sd = a.std(axis=(1, 2, 3), keepdims=True)
        sd = np.where(sd > 1e-3, sd, std)
        return torch.from_numpy((a - m) / sd).float()

    Xl, yl = tensor(X_lab[train_idx]), torch.from_numpy(y_all[train_idx]).long()
    Xh, yh = tensor(X_lab[held]), y_all[held]
    train_unl = rng.permutation(len(X_unl))[:MAX_UNLABELED_TRAIN]
    Xu = tensor(X_unl[train_unl]) if len(train_unl) else torch.zeros((0,) + Xl.shape[1:])
    model = _network(Xl.shape[1], k).to(dev).to(memory_format=torch.channels_last)  # about 2x faster on CPU
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9, nesterov=True, weight_decay=5e-4)
    b = int(min(32, max(8, len(Xl))))
    mu = 3 if len(Xu) else 0
    max_steps = int(max_steps or planned_steps(len(Xu), b, max(mu, 1)))
    best = (-1.0, float("inf"))
    best_state, best_step, stale, step = copy.deepcopy(ema.state_dict()), 0, 0, 0
    ema_decay = 0.99

    def predict(net, X: torch.Tensor) -> np.ndarray:
        out = []
        with torch.no_grad():
            for i in range(0, len(X), 1024):
                out.append(torch.softmax(net(X[i:i + 1024].to(dev)), 1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, k))

    while step < max_steps:
        step += 1
        lr = 0.03 * math.cos(7 * math.pi * step / (16 * max_steps))  # FixMatch's cosine decay
        for g in opt.param_groups:
            g["lr"] = lr
        li = torch.randint(0, len(Xl), (b,), generator=gen)
        xl = weak(Xl[li], gen)
        model.train()
        if mu:
            ui = torch.randint(0, len(Xu), (mu * b,), generator=gen)
            xu = Xu[ui]
            xw, xs = weak(xu, gen), strong(xu, gen)
            logits = model(torch.cat([xl, xw, xs]).to(dev, memory_format=torch.channels_last))
            ll, lw, ls = logits[:b], logits[b:b + mu * b], logits[b + mu * b:]
            with torch.no_grad():
                pw = torch.softmax(lw.detach(), 1)
                conf, pseudo = pw.max(1)
                mask = (conf >= PSEUDO_THRESHOLD).float()
            loss = F.cross_entropy(ll, yl[li].to(dev)) + (F.cross_entropy(ls, pseudo, reduction="none") * mask).mean()
        else:
            loss = F.cross_entropy(model(xl.to(dev)), yl[li].to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            d = min(ema_decay, (1 + step) / (10 + step))
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(d).add_(pm.detach(), alpha=1 - d)
            for be, bm in zip(ema.buffers(), model.buffers()):
                be.copy_(bm)
        out_of_time = time.monotonic() - started > time_budget
        if step % EVAL_EVERY == 0 or out_of_time or step == max_steps:
            if progress:
                progress(step, max_steps)
            if len(Xh):
                ph = predict(ema, Xh)
                acc = float((ph.argmax(1) == yh).mean())
                nll = float(-np.log(np.clip(ph[np.arange(len(yh)), yh], 1e-9, 1)).mean())
                if (acc, -nll) > (best[0], -best[1]):
                    best, best_state, best_step, stale = (acc, nll), copy.deepcopy(ema.state_dict()), step, 0
                else:
                    stale += 1
            else:  # nothing held out: the last average
                best_state, best_step = copy.deepcopy(ema.state_dict()), step
            if out_of_time or (step >= max_steps // 3 and stale >= PATIENCE):
                break
    ema.load_state_dict(best_state)
    result.steps, result.best_step = step, best_step
    result.holdout_proba = predict(ema, Xh) if len(Xh) else np.zeros((0, k))
    result.holdout_y = yh
    result.proba = predict(ema, tensor(X_unl)) if len(X_unl) else np.zeros((0, k))
    if len(train_unl):
        result.pseudo_share = float((result.proba[train_unl].max(1) >= PSEUDO_THRESHOLD).mean())
    result.seconds = time.monotonic() - started
    return result
