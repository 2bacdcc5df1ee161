"""Active learning for classification jobs (images, text, sound) and auto grouping (F4.1, F4.6,
F4.7): features for every sample, a classifier trained on the labeled ones (autolabel/learn.py),
predictions for the rest into To Be Confirmed, hard examples flagged, clusters as the sample
attribute."""
from __future__ import annotations

import logging

import numpy as np

from store.audio import open_audio
from store.predictions import Prediction, RunSample, run_samples, set_clusters, write_predictions
from store.samples import sample_bytes

from . import features as F
from .learn import calibrate_threshold, cluster, cross_val_proba, train_classifier, uncertainty, uncertainty_reason
from .runner import Outcome, RunContext, handler

log = logging.getLogger(__name__)
ACCEPT_ACCURACY = 0.98  # the confidence threshold is where held-out labeled samples were 98% right
WRITE_BATCH = 256


class FeatureSource:
    """Feature vectors for the samples of a job, by media; says which model made them."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        media = ctx.job.labeling_type.media
        self.media = media
        m = ctx.model
        if media == "image":
            self.pretrained = m is not None
            self.encode = F.ImageBackbone(m.source, ctx.device) if m else None
            self.description = f"backbone {m.ref}" if m else F.SCRATCH_IMAGE
        elif media == "text":
            self.pretrained = True
            self.encode = F.TextEncoder(m.source if m else None, ctx.device)
            self.description = f"sentence embeddings {m.ref}" if m else F.TEXT_MODEL_NAME
        elif media == "audio":
            self.pretrained = False
            self.encode = None
            self.description = F.SCRATCH_AUDIO
        else:
            raise ValueError(f"no features for {media} samples")

    @property
    def head(self) -> str:
        """A linear head on pretrained embeddings; a small network on raw features."""
        return "logistic" if self.pretrained else "mlp"

    def _one(self, s: RunSample):
        store = self.ctx.store
        if self.media == "image":
            return F.load_image(sample_bytes(store, s.sample_id))
        if self.media == "text":
            return s.text or ""
        with open_audio(store, s.sample_id) as f:
            return F.audio_features(f.read(dtype="float32"), f.samplerate)

    def vectors(self, samples: list[RunSample], done_before: int, total: int) -> np.ndarray:
        out = []
        size = max(1, self.ctx.batch_size)
        for i, chunk in enumerate(F.batched(samples, size)):
            items = [self._one(s) for s in chunk]
            if self.media == "image":
                out.append(self.encode(items) if self.encode else F.pixel_features(items))
            elif self.media == "text":
                out.append(self.encode(items))
            else:
                out.append(np.stack(items))
            self.ctx.progress(done_before + min(len(samples), (i + 1) * size), total, "reading features")
        return np.vstack(out) if out else np.zeros((0, 1), np.float32)


def classification_run(ctx: RunContext) -> Outcome:
    mode = ctx.run.mode or "fast"
    samples = run_samples(ctx.store, ctx.job.id)
    labeled = [s for s in samples if s.labeled and s.labels]
    pending = [s for s in samples if not s.labeled]
    total = len(labeled) + 2 * len(pending)  # features for all, then one write per pending sample
    feats = FeatureSource(ctx)
    X_lab = feats.vectors(labeled, 0, total)
    X_pend = feats.vectors(pending, len(labeled), total)
    y = [s.labels[0] for s in labeled]  # multi-label samples train on their first label
    ctx.progress(len(labeled) + len(pending), total, "training")
    P_cv, y_cv = cross_val_proba(X_lab, y, head=feats.head)
    threshold = calibrate_threshold(P_cv, y_cv, ACCEPT_ACCURACY)
    clf = train_classifier(X_lab, y, head=feats.head, mode=mode, X_unlabeled=X_pend,
                           pseudo_threshold=max(threshold, 0.9))
    P = clf.predict_proba(X_pend) if len(pending) else np.zeros((0, len(clf.classes)))
    unc = uncertainty(P, ctx.strategy)
    written = hard = 0
    done = len(labeled) + len(pending)
    for start in range(0, len(pending), WRITE_BATCH):
        batch = []
        for j in range(start, min(len(pending), start + WRITE_BATCH)):
            p = P[j]
            conf = float(p.max())
            is_hard = conf < threshold
            batch.append(Prediction(pending[j].sample_id, {"labels": [clf.classes[int(p.argmax())]]}, conf,
                                    hard=is_hard, hard_coefficient=float(unc[j]),
                                    hard_reason=uncertainty_reason(p, clf.classes, ctx.strategy, float(unc[j]))))
        res = write_predictions(ctx.store, ctx.job.id, batch, model=_model_name(ctx, feats), actor=ctx.actor)
        written += res.written
        hard += res.hard
        done += len(batch)
        ctx.progress(done, total, f"{written} predicted")
    cv_acc = float((P_cv.argmax(1) == y_cv).mean()) if len(y_cv) else 0.0
    msg = (f"{mode} active learning with a {'linear head on ' if feats.pretrained else ''}{feats.description}: "
           f"trained on {len(labeled)} labeled samples"
           + (f" + {clf.pseudo_labeled} confident pseudo-labels" if mode == "precise" else "")
           + f", {written} predictions to To Be Confirmed, {hard} hard examples ({ctx.strategy}); "
           f"held-out accuracy {cv_acc:.1%}; confirm above {threshold:.2f} for about "
           f"{ACCEPT_ACCURACY:.0%} accuracy")
    return Outcome(written, hard, msg)


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
