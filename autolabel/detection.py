"""Active learning for object detection (F4.1, F4.2, F4.4): fine-tune the registered transformers
detection model (DETR, Conditional/Deformable DETR, YOLOS, RT-DETR...: any AutoModelForObjectDetection
whose image processor takes COCO `annotations=`) on the labeled images' rectangles, with the job's
label set as its classes, then propose rectangles for the other images (To Be Confirmed).

- Training data: the rectangles of labeled samples only (other shapes are ignored, F4.1
  "proposes rectangles only"); a labeled image with no rectangle is left out (its objects may be
  drawn as other shapes, so it would teach "no object here").
- The classification head is set up for the job's labels (`num_labels`, `id2label`,
  `ignore_mismatched_sizes=True`: a head of another size is re-initialized).
- "fast": one fine-tune (option `epochs`, default 10; AdamW, lr 1e-4 for the head and
  transformer, 1e-5 for the backbone, gradient clipping 0.1 as DETR does).
- "precise": after that, boxes scoring >= `pseudo_threshold` (default 0.8) on unlabeled images
  become pseudo-labels, and a second, shorter fine-tune (half the epochs) learns from the labeled
  and pseudo-labeled images together.
- Proposals: boxes >= `score_threshold` (default 0.5), confidence and hard examples as in
  pre-labeling (autolabel/prelabel.py: mean box score; low box scores or near misses are hard).
- The fine-tuned model is saved to <data dir>/models/run-<id> (option `save_model`, default
  true) so it can be registered and used for pre-labeling; nothing is sent anywhere.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

from store.errors import ValidationError
from store.predictions import RunSample, run_samples
from store.runs import MIN_DETECTION_IMAGES
from store.types.shapes import image_size

from . import features as F
from .prelabel import (SCORE_THRESHOLD, LabelMatcher, Tally, _short, detect, detection_prediction, hard_below,
                       load_detector, model_inputs, model_name, sample_name)
from . import engine
from .runner import Outcome, RunContext, handler

log = logging.getLogger(__name__)
EPOCHS = 10
LR, BACKBONE_LR, WEIGHT_DECAY, CLIP = 1e-4, 1e-5, 1e-4, 0.1
PSEUDO_THRESHOLD = 0.8


@dataclass
class TrainImage:
    sample: RunSample
    boxes: list[list[float]]  # COCO [x, y, w, h] in pixels
    classes: list[int]
    pseudo: bool = False


def rectangles_of(s: RunSample, class_ids: dict[str, int]) -> tuple[list[list[float]], list[int]]:
    boxes, classes = [], []
    for shape in (s.annotation or {}).get("shapes") or []:
        if shape.get("type") != "rectangle" or shape.get("label") not in class_ids:
            continue
        (x1, y1), (x2, y2) = shape["points"]
        x1, x2 = sorted((float(x1), float(x2)))
        y1, y2 = sorted((float(y1), float(y2)))
        if x2 - x1 > 0 and y2 - y1 > 0:
            boxes.append([x1, y1, x2 - x1, y2 - y1])
            classes.append(class_ids[shape["label"]])
    return boxes, classes


class DetectionLearner:
    def __init__(self, ctx: RunContext, names: list[str]):
        import torch

        self.ctx = ctx
        self.device = F.device_for(ctx.device)
        self.names = names
        id2label = {i: n for i, n in enumerate(names)}
        self.processor, self.model = load_detector(ctx.model.source, self.device, num_labels=len(names),
                                                   id2label=id2label, label2id={n: i for i, n in id2label.items()},
                                                   ignore_mismatched_sizes=True)
        self.model.config.id2label = id2label
        self.model.config.label2id = {n: i for i, n in id2label.items()}
        lr = float(ctx.options.get("lr", LR))
        backbone = [p for n, p in self.model.named_parameters() if "backbone" in n and p.requires_grad]
        rest = [p for n, p in self.model.named_parameters() if "backbone" not in n and p.requires_grad]
        groups = [{"params": rest, "lr": lr}]
        if backbone:
            groups.append({"params": backbone, "lr": float(ctx.options.get("backbone_lr", lr / 10 if "lr" in ctx.options
                                                                               else BACKBONE_LR))})
        self.optimizer = torch.optim.AdamW(groups, weight_decay=WEIGHT_DECAY)
        self.rng = random.Random(int(ctx.options.get("seed", 0)))
        self.tally = Tally()
        self.bad: set[int] = set()

    def image(self, s: RunSample):
        return F.load_image(self.ctx.sample_bytes(s.sample_id))

    def images(self, samples: list[RunSample]) -> list[tuple[RunSample, object]]:
        out = []
        for s in samples:
            if s.sample_id in self.bad:
                continue
            try:
                out.append((s, self.image(s)))
            except Exception as e:  # a broken file is skipped once and reported, never a failed run
                self.bad.add(s.sample_id)
                self.tally.unreadable.append(f"{sample_name(s)}: {_short(e)}")
                log.warning("detection active learning skipped %s: %s", sample_name(s), e)
        return out

    def fine_tune(self, data: list[TrainImage], epochs: int, done: int, total: int, what: str) -> tuple[int, float]:
        """Epochs over `data`; progress after every batch. Returns (done, last mean loss)."""
        import torch

        by_id = {t.sample.sample_id: t for t in data}
        size = max(1, self.ctx.batch_size)
        last = float("nan")
        for epoch in range(epochs):
            self.model.train()
            order = list(data)
            self.rng.shuffle(order)
            losses = []
            for chunk in F.batched(order, size):
                loaded = self.images([t.sample for t in chunk])
                if loaded:
                    anns = [{"image_id": i, "annotations": [
                        {"bbox": b, "category_id": c, "area": b[2] * b[3], "iscrowd": 0}
                        for b, c in zip(by_id[s.sample_id].boxes, by_id[s.sample_id].classes)]}
                        for i, (s, _) in enumerate(loaded)]
                    enc = self.processor(images=[im for _, im in loaded], annotations=anns, return_tensors="pt")
                    inputs = {k: v.to(self.device) for k, v in model_inputs(self.model, enc).items()}
                    labels = [{k: v.to(self.device) for k, v in t.items() if hasattr(v, "to")} for t in enc["labels"]]
                    out = self.model(**inputs, labels=labels)
                    self.optimizer.zero_grad()
                    out.loss.backward()
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), CLIP)
                    self.optimizer.step()
                    losses.append(float(out.loss.detach()))
                done += len(chunk)
                self.ctx.progress(done, total, f"{what}: epoch {epoch + 1}/{epochs}"
                                               + (f", loss {losses[-1]:.3f}" if losses else ""))
            if losses:
                last = sum(losses) / len(losses)
                log.info("run %s %s epoch %d/%d: loss %.4f", self.ctx.run.id, what, epoch + 1, epochs, last)
        return done, last

    def predict(self, samples: list[RunSample], threshold: float, done: int, total: int, what: str):
        """Yields (samples of the batch, [(sample, image size, boxes)]) batch by batch."""
        size = max(1, self.ctx.batch_size)
        for chunk in F.batched(samples, size):
            loaded = self.images(chunk)
            results = []
            if loaded:
                try:
                    found = detect(self.model, self.processor, [im for _, im in loaded], threshold, self.device)
                except Exception as e:
                    log.warning("detection failed on a batch, trying its images one by one: %s", e)
                    found = []
                    for s, im in loaded:
                        try:
                            found += detect(self.model, self.processor, [im], threshold, self.device)
                        except Exception as e1:
                            self.tally.failed.append(f"{sample_name(s)}: {_short(e1)}")
                            found.append(None)
                for (s, im), boxes in zip(loaded, found):
                    if boxes is not None:
                        results.append((s, image_size({}, s.meta) or (float(im.width), float(im.height)), boxes))
            done += len(chunk)
            self.ctx.progress(done, total, f"{what}")
            yield done, results


def detection_work(ctx: RunContext, names: list[str], train: list[TrainImage], pending: list[RunSample], mode: str,
                   epochs: int, total: int):
    """Fine-tune the detector (and, precise, again with pseudo-labels) and propose boxes for the
    pending images: yields ("proposals", (done, [(sample, image size, boxes)], id2label)) batch by
    batch, then ("end", {"loss", "pseudo", "tally", "model_files"}). The engine's work (on Ray:
    one task, autolabel/engine.py run_work); the app writes the proposals."""
    import tempfile

    epochs2 = max(1, epochs // 2)
    threshold = float(ctx.options.get("score_threshold", SCORE_THRESHOLD))
    pseudo_threshold = float(ctx.options.get("pseudo_threshold", max(PSEUDO_THRESHOLD, threshold)))
    learner = DetectionLearner(ctx, names)
    done, loss = learner.fine_tune(train, epochs, 0, total, "fine-tuning")

    pseudo = 0
    if mode == "precise":
        extra = []
        for done, results in learner.predict(pending, pseudo_threshold, done, total, "pseudo-labels"):
            for s, (w, h), boxes in results:
                kept, classes = [], []
                for b in boxes:
                    x1, y1, x2, y2 = (min(max(v, 0.0), lim) for v, lim in zip(b.xyxy, (w, h, w, h)))
                    if b.score >= pseudo_threshold and x2 - x1 > 1 and y2 - y1 > 1:
                        kept.append([x1, y1, x2 - x1, y2 - y1])
                        classes.append(b.label_id)
                if kept:
                    extra.append(TrainImage(s, kept, classes, pseudo=True))
        pseudo = len(extra)
        total = done + epochs2 * (len(train) + pseudo) + len(pending)  # now known exactly
        done, loss = learner.fine_tune(train + extra, epochs2, done, total, "fine-tuning with pseudo-labels")

    id2label = dict(learner.model.config.id2label)
    for done, results in learner.predict(pending, threshold / 2, done, total, "proposing boxes"):
        yield "proposals", (done, total, results, id2label)
    files: dict[str, bytes] | str = {}
    if ctx.options.get("save_model", True):
        try:
            with tempfile.TemporaryDirectory(prefix="labelport-detector-") as tmp:
                learner.model.save_pretrained(tmp)
                learner.processor.save_pretrained(tmp)
                files = {f.relative_to(tmp).as_posix(): f.read_bytes() for f in Path(tmp).rglob("*") if f.is_file()}
        except OSError as e:
            log.warning("could not write the fine-tuned model: %s", e)
            files = _short(e)
    yield "end", {"loss": loss, "pseudo": pseudo, "tally": learner.tally, "model_files": files}


@handler("object_detection", "active_learning", tasks=("object-detection",), model_required=True)
def detection_run(ctx: RunContext) -> Outcome:
    mode = ctx.run.mode or "fast"
    names = ctx.job.label_set.names()
    class_ids = {n: i for i, n in enumerate(names)}
    samples = run_samples(ctx.store, ctx.job.id)
    pending = [s for s in samples if not s.labeled]
    train = []
    for s in samples:
        if s.labeled:
            boxes, classes = rectangles_of(s, class_ids)
            if boxes:
                train.append(TrainImage(s, boxes, classes))
    if len(train) < MIN_DETECTION_IMAGES:
        raise ValidationError(f"detection active learning trains on rectangles: it needs at least "
                              f"{MIN_DETECTION_IMAGES} labeled images with a rectangle (now {len(train)}); "
                              "other shapes are not used")
    epochs = max(1, int(ctx.options.get("epochs", EPOCHS)))
    epochs2 = max(1, epochs // 2)
    threshold = float(ctx.options.get("score_threshold", SCORE_THRESHOLD))
    pseudo_threshold = float(ctx.options.get("pseudo_threshold", max(PSEUDO_THRESHOLD, threshold)))
    total = epochs * len(train) + len(pending)
    if mode == "precise":
        total += len(pending) + epochs2 * (len(train) + len(pending))
    ctx.progress(0, total, f"loading model {ctx.model.ref}{engine.where(ctx)}")

    matcher = LabelMatcher(names)
    hard_limit = hard_below(ctx)
    name = model_name(ctx)
    written = hard = 0
    tally = Tally()
    end: dict = {}
    # the fine-tuning and the proposals: in this thread, or one task on the Ray cluster (a GPU
    # worker with --device gpu); the proposals come back batch by batch and are written here
    work = engine.run_work(ctx, detection_work, names, train, pending, mode, epochs, total,
                           sample_ids=[t.sample.sample_id for t in train] + [s.sample_id for s in pending])
    for kind, payload in work:
        if kind == "end":
            end = payload
            continue
        done, total, results, id2label = payload
        batch = []
        for s, size, boxes in results:
            p = detection_prediction(s.sample_id, boxes, id2label, matcher, size, threshold, hard_limit)
            if p is None:
                tally.empty += 1
            else:
                batch.append(p)
        new, new_hard = tally.write(ctx, batch, name)
        written, hard = written + new, hard + new_hard
        ctx.progress(done, total, f"{written} images with proposed boxes")
    tally.add(end["tally"])
    loss, pseudo = end["loss"], end["pseudo"]

    saved = ""
    if ctx.options.get("save_model", True):
        folder = ctx.store.settings.data_dir / "models" / f"run-{ctx.run.id}"
        try:
            if isinstance(end["model_files"], str):  # the worker could not write it
                raise OSError(end["model_files"])
            folder.mkdir(parents=True, exist_ok=True)
            for rel, data in end["model_files"].items():  # the fine-tuned model, wherever it was trained
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                (folder / rel).write_bytes(data)
            saved = f"; the fine-tuned model is saved in {folder} (register it to pre-label with it)"
        except OSError as e:
            log.warning("could not save the fine-tuned model to %s: %s", folder, e)
            saved = f"; the fine-tuned model could not be saved ({_short(e)})"
    parts = [f"{mode} detection active learning from {ctx.model.ref}: fine-tuned on {len(train)} labeled images "
             f"(rectangles only) for {epochs} epochs"
             + (f", then on {pseudo} pseudo-labeled images (boxes >= {pseudo_threshold:g}) for {epochs2} more"
                if mode == "precise" else "")
             + f" (last loss {loss:.3f}); {written} of {len(pending)} images got boxes >= {threshold:g} in "
               f"To Be Confirmed, {hard} hard examples"]
    parts += tally.lines("no box above the score threshold")
    return Outcome(written, hard, "; ".join(parts) + saved)
