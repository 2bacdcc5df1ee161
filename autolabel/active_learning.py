"""Active learning for classification jobs (images, text, sound) and auto grouping (F4.1, F4.6,
F4.7): features for every sample, a classifier trained on the labeled ones (autolabel/learn.py),
predictions for the rest into To Be Confirmed, hard examples flagged, clusters as the sample
attribute."""
from __future__ import annotations

import logging

import numpy as np

from store.predictions import Prediction, RunSample, run_samples, set_clusters, write_predictions

from . import features as F
from store.runs import suggested_threshold

from .learn import (calibrate, cluster, cross_val_proba, describe_calibration, train_classifier, uncertainty,
                    uncertainty_reason)
from . import engine
from .runner import Outcome, RunContext, handler

log = logging.getLogger(__name__)
ACCEPT_ACCURACY = 0.98  # the confidence threshold is where held-out labeled samples were 98% right
WRITE_BATCH = 256


class FeatureSource:
    """Feature vectors for the samples of a job, by media; says which model made them. The model
    loads on first use: on a Ray run, on the workers only."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        media = ctx.job.labeling_type.media
        self.media = media
        m = ctx.model
        self._encode = None
        if media == "image":
            self.pretrained = m is not None
            self.description = f"backbone {m.ref}" if m else F.SCRATCH_IMAGE
        elif media == "text":
            self.pretrained = True
            self.description = f"sentence embeddings {m.ref}" if m else F.TEXT_MODEL_NAME
        elif media == "audio":
            self.pretrained = False
            self.description = F.SCRATCH_AUDIO
        else:
            raise ValueError(f"no features for {media} samples")

    @property
    def encode(self):
        """The image backbone or text encoder (None: features without a model)."""
        m = self.ctx.model
        if self._encode is None:
            if self.media == "image" and m is not None:
                self._encode = F.ImageBackbone(m.source, self.ctx.device)
            elif self.media == "text":
                self._encode = F.TextEncoder(m.source if m else None, self.ctx.device)
        return self._encode

    @property
    def head(self) -> str:
        """A linear head on pretrained embeddings; a small network on raw features."""
        return "logistic" if self.pretrained else "mlp"

    def _one(self, s: RunSample):
        if self.media == "image":
            return F.load_image(self.ctx.sample_bytes(s.sample_id))
        if self.media == "text":
            return s.text or ""
        with self.ctx.open_audio(s.sample_id) as f:
            return F.audio_features(f.read(dtype="float32"), f.samplerate)

    def batch(self, chunk: list[RunSample]) -> np.ndarray:
        """The vectors of one chunk of samples."""
        items = [self._one(s) for s in chunk]
        if self.media == "image":
            return self.encode(items) if self.pretrained else F.pixel_features(items)
        if self.media == "text":
            return self.encode(items)
        return np.stack(items)

    def vectors(self, samples: list[RunSample], done_before: int, total: int) -> np.ndarray:
        return self.vectors_of([samples], done_before, total)[0]

    def vectors_of(self, groups: list[list[RunSample]], done_before: int, total: int) -> list[np.ndarray]:
        """The vectors of each group of samples, computed in chunks of the run's batch size on the
        run's engine (autolabel/engine.py: on Ray, by an actor pool over the cluster)."""
        size = max(1, self.ctx.batch_size)
        chunks, owner = [], []
        for g, samples in enumerate(groups):
            for chunk in F.batched(samples, size):
                chunks.append(chunk)
                owner.append(g)
        parts: list = [None] * len(chunks)
        done = done_before
        for i, X in engine.map_chunks(self.ctx, FeatureChunks, chunks):
            parts[i] = X
            done += len(chunks[i])
            self.ctx.progress(done, total, f"reading features{engine.where(self.ctx)}")
        out = []
        for g in range(len(groups)):
            mine = [parts[i] for i in range(len(chunks)) if owner[i] == g]
            out.append(np.vstack(mine) if mine else np.zeros((0, 1), np.float32))
        return out


class FeatureChunks:
    """The features' work on an engine's worker: the model, loaded once, chunk after chunk."""

    def __init__(self, ctx: RunContext):
        self.source = FeatureSource(ctx)

    def __call__(self, chunk: list[RunSample]) -> np.ndarray:
        return self.source.batch(chunk)


def classification_run(ctx: RunContext) -> Outcome:
    mode = ctx.run.mode or "fast"
    samples = run_samples(ctx.store, ctx.job.id)
    labeled = [s for s in samples if s.labeled and s.labels]
    pending = [s for s in samples if not s.labeled]
    y = [s.labels[0] for s in labeled]  # multi-label samples train on their first label
    feats = FeatureSource(ctx)
    if feats.media == "image" and not feats.pretrained and mode == "precise":
        return _semi_supervised_run(ctx, labeled, pending, y)
    total = len(labeled) + 2 * len(pending)  # features for all, then one write per pending sample
    X_lab, X_pend = feats.vectors_of([labeled, pending], 0, total)
    ctx.progress(len(labeled) + len(pending), total, "training")
    P_cv, y_cv = cross_val_proba(X_lab, y, head=feats.head)
    first = calibrate(P_cv, y_cv, ACCEPT_ACCURACY)
    clf = train_classifier(X_lab, y, head=feats.head, mode=mode, X_unlabeled=X_pend,
                           pseudo_threshold=min(0.99, max(0.9, suggested_threshold(first) or 0.95)))
    P = clf.predict_proba(X_pend) if len(pending) else np.zeros((0, len(clf.classes)))
    cal = calibrate(P_cv, y_cv, ACCEPT_ACCURACY, predicted=P.max(1) if len(P) else np.zeros(0))
    written, hard = _write(ctx, pending, P, clf.classes, cal, _model_name(ctx, feats), len(labeled) + len(pending),
                           total)
    cv_acc = float((P_cv.argmax(1) == y_cv).mean()) if len(y_cv) else 0.0
    path = f"{'a linear head on ' if feats.pretrained else ''}{feats.description}"
    msg = (f"{mode} active learning with {path}: trained on {len(labeled)} labeled samples"
           + (f" + {clf.pseudo_labeled} confident pseudo-labels" if mode == "precise" else "")
           + f", {written} predictions to To Be Confirmed, {hard} hard examples ({ctx.strategy}); "
           f"cross-validated accuracy {cv_acc:.1%}; {describe_calibration(cal)}")
    return Outcome(written, hard, msg, cal)


def _semi_supervised_run(ctx: RunContext, labeled: list[RunSample], pending: list[RunSample], y: list[str]) -> Outcome:
    """Precise mode for images without a backbone: the semi-supervised CNN (autolabel/semi.py)."""
    from .semi import planned_steps

    steps = int(ctx.options.get("max_steps") or planned_steps(len(pending)))
    total = len(labeled) + len(pending) + steps + len(pending)
    (res,) = list(engine.run_work(ctx, semi_supervised_work, labeled, pending, y, steps, total,
                                  sample_ids=[s.sample_id for s in labeled + pending]))
    base = len(labeled) + len(pending) + steps
    P = res.proba
    cal = calibrate(res.holdout_proba, res.holdout_y, ACCEPT_ACCURACY, min_support=_min_support(len(res.holdout_y)),
                    predicted=P.max(1) if len(P) else np.zeros(0))
    model = f"{ctx.model.ref if ctx.model else 'semi-supervised-cnn'} ({ctx.run.kind} run {ctx.run.id})"
    written, hard = _write(ctx, pending, P, res.classes, cal, model, base, total)
    held = res.holdout_accuracy
    msg = (f"precise active learning with a {res.describe()}: trained on {len(labeled) - len(res.holdout_y)} labeled "
           f"and {len(pending)} unlabeled images ({res.steps} steps, the best at step {res.best_step}, "
           f"{res.pseudo_share:.0%} of the unlabeled confidently pseudo-labeled at the end), "
           f"{len(res.holdout_y)} labeled held out for early stopping and calibration"
           + (f" ({held:.1%} right)" if held is not None else "")
           + f"; {written} predictions to To Be Confirmed, {hard} hard examples ({ctx.strategy}); "
           f"{describe_calibration(cal)}")
    return Outcome(written, hard, msg, cal)


def semi_supervised_work(ctx: RunContext, labeled: list[RunSample], pending: list[RunSample], y: list[str],
                         steps: int, total: int):
    """Reads the images and trains the semi-supervised network; yields its SemiResult (the
    engine's work: on Ray, one task)."""
    from .semi import train_semi_supervised

    def images(items: list[RunSample], before: int) -> list:
        out = []
        for i, s in enumerate(items, start=1):
            im = F.load_image(ctx.sample_bytes(s.sample_id))
            im.thumbnail((32, 32))  # the network works at 16 or 24 px: a large job stays small in memory
            out.append(im)
            if i % 200 == 0 or i == len(items):
                ctx.progress(before + i, total, "reading images")
        return out

    lab_images = images(labeled, 0)
    pend_images = images(pending, len(labeled))
    base = len(labeled) + len(pending)
    yield train_semi_supervised(lab_images, y, pend_images, seed=0, device=F.device_for(ctx.device), max_steps=steps,
                                progress=lambda step, _n: ctx.progress(base + step, total, f"training, step {step}"))


def _min_support(held_out: int) -> int:
    """Held-out predictions a threshold's accuracy must rest on: 10, fewer when fewer are held out."""
    return max(5, min(10, held_out // 2))


def _write(ctx: RunContext, pending: list[RunSample], P: np.ndarray, classes: list[str], cal: dict, model: str,
           done: int, total: int) -> tuple[int, int]:
    """The predictions into To Be Confirmed in batches; hard: below the offered threshold."""
    threshold = suggested_threshold(cal)
    threshold = 1.0 if threshold is None else threshold
    unc = uncertainty(P, ctx.strategy) if len(P) else np.zeros(0)
    written = hard = 0
    for start in range(0, len(pending), WRITE_BATCH):
        batch = []
        for j in range(start, min(len(pending), start + WRITE_BATCH)):
            p = P[j]
            conf = float(p.max())
            batch.append(Prediction(pending[j].sample_id, {"labels": [classes[int(p.argmax())]]}, conf,
                                    hard=conf < threshold, hard_coefficient=float(unc[j]),
                                    hard_reason=uncertainty_reason(p, classes, ctx.strategy, float(unc[j]))))
        res = write_predictions(ctx.store, ctx.job.id, batch, model=model, actor=ctx.actor)
        written += res.written
        hard += res.hard
        done += len(batch)
        ctx.progress(done, total, f"{written} predicted")
    return written, hard


def _model_name(ctx: RunContext, feats: FeatureSource) -> str:
    base = ctx.model.ref if ctx.model else ("all-MiniLM-L6-v2" if feats.media == "text" else "scratch-network")
    return f"{base} ({ctx.run.kind} run {ctx.run.id})"


def grouping_run(ctx: RunContext) -> Outcome:
    samples = run_samples(ctx.store, ctx.job.id)
    feats = FeatureSource(ctx)
    X = feats.vectors(samples, 0, len(samples) + 1)
    k = ctx.options.get("clusters")
    groups = cluster(X, int(k) if k else None)
    n = set_clusters(ctx.store, ctx.job.id, {s.sample_id: f"cluster-{int(g) + 1}" for s, g in zip(samples, groups)},
                     actor=ctx.actor)
    ctx.progress(len(samples) + 1, len(samples) + 1, "grouped")
    return Outcome(0, 0, f"{len(set(groups.tolist()))} clusters over {n} samples from {feats.description}; "
                         "filter by them with Sample attribute")


for _type in ("image_classification", "text_classification", "sound_classification"):
    handler(_type, "active_learning", tasks=("embedding",))(classification_run)
    handler(_type, "grouping", tasks=("embedding",))(grouping_run)
handler("object_detection", "grouping", tasks=("embedding",))(grouping_run)
