"""Pre-labeling (F4.3, F4.4): a registered transformers model labels the samples that are not
labeled yet (Unlabeled or To Be Confirmed), in batches of the run's batch size, on CPU or GPU;
each batch is written to To Be Confirmed with its confidence and the model's name.

What each task writes and how sure it is (the confidence is 0..1 for the whole annotation):
- image / text / sound classification: {"labels": [top label]}; confidence = the top label's
  probability (softmax; sigmoid for multi-label models).
- object detection: rectangles in the job's shape schema, clipped to the image, only boxes
  scoring >= the `score_threshold` option (default 0.5), near-duplicates of a better box of the
  same label (IoU >= 0.9) dropped; confidence = the mean box score. An image without such a box
  is not written (it stays Unlabeled).
- zero-shot (no labeled data: the job's label names are the prompts, the run's message says
  the template): text classification with an NLI model ("This example is <label>.", the
  zero-shot-classification pipeline), image classification with a CLIP-style model ("a photo
  of a <label>.", softmax of the image's logits over the job's labels), both with the top
  label's share as the confidence and at least 2 labels; object detection with OWL-ViT/OWLv2
  (queries "a photo of a <label>", `score_threshold` default 0.1), written as detection is.
- named entity recognition: token classification aggregated "simple" (B-/I- tags merged into
  entities); spans use the str offsets of the fast tokenizer, which are code points, as the
  type wants; confidence = the lowest entity score (an annotation is as sure as its least sure
  span). A text without entities is not written.
- speech labeling: the transcript. CTC models: greedy decoding; confidence = the mean, over the
  frames whose most likely token is not the blank, of that token's probability (the frames that
  produce characters; blank frames say nothing about the words). Encoder-decoder models
  (Whisper...): the geometric mean of the generated tokens' probabilities. An empty transcript
  is not written. Audio is resampled to the model's rate, mixed to mono and read in 30-second
  chunks whose transcripts are joined.

Labels: a label the model predicts is matched to the job's label set exactly, else ignoring
case; a prediction whose label is in neither is dropped and counted in the run's message.
Hard examples (F4.6): a prediction whose confidence is below the `hard_below` option (default
0.5) is flagged with coefficient 1 - confidence; detection also flags images with near misses
(boxes between half the threshold and the threshold: objects the model half sees).
A sample whose file cannot be read, or that the model fails on, is skipped and reported; the run
goes on.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import logging
from collections import Counter
from dataclasses import dataclass, field
from math import gcd
from typing import Any, Callable

import numpy as np

from store.errors import ValidationError
from store.predictions import Prediction, RunSample, run_samples, write_predictions
from store.types import REGISTRY
from store.types.shapes import image_size

from . import features as F
from . import engine
from .runner import Outcome, RunContext, handler

log = logging.getLogger(__name__)
HARD_BELOW = 0.5
SCORE_THRESHOLD = 0.5
AUDIO_CHUNK_S = 30.0
DUPLICATE_IOU = 0.9  # boxes of one label overlapping this much are one object
BIO_PREFIXES = ("B-", "I-", "E-", "S-", "L-", "U-")


# -- shared pieces -------------------------------------------------------------------------------

class LabelMatcher:
    """Model label -> job label: exact, else ignoring case; counts what did not match."""

    def __init__(self, names: list[str]):
        self.names = set(names)
        self.lower: dict[str, str] = {}
        for n in names:
            self.lower.setdefault(n.casefold(), n)
        self.outside: Counter[str] = Counter()

    def __call__(self, label: str) -> str | None:
        label = str(label)
        if label in self.names:
            return label
        found = self.lower.get(label.casefold())
        if found is None:
            self.outside[label] += 1
        return found

    def message(self) -> str:
        if not self.outside:
            return ""
        names = [n for n, _ in self.outside.most_common(10)]
        more = ", ..." if len(self.outside) > 10 else ""
        n = sum(self.outside.values())
        return (f"{n} prediction{'s' if n != 1 else ''} used labels outside the label set (dropped): "
                f"{', '.join(names)}{more}")


@dataclass
class Tally:
    """What a run skipped, for its message."""
    unreadable: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    empty: int = 0
    refused: int = 0
    first_refusal: str | None = None

    def add(self, other: "Tally") -> None:
        """Count in what another tally (a worker's, for one chunk) skipped."""
        self.unreadable += other.unreadable
        self.failed += other.failed
        self.empty += other.empty

    def write(self, ctx: RunContext, batch: list[Prediction], model: str) -> tuple[int, int]:
        """Write a batch of predictions; count what the store refused. Returns (written, hard)."""
        if not batch:
            return 0, 0
        res = write_predictions(ctx.store, ctx.job.id, batch, model=model, actor=ctx.actor)
        if res.first_error:
            self.refused += res.skipped
            self.first_refusal = self.first_refusal or res.first_error
        return res.written, res.hard

    def lines(self, empty_what: str) -> list[str]:
        out = []
        if self.unreadable:
            out.append(f"{len(self.unreadable)} sample file(s) could not be read and were skipped "
                       f"({'; '.join(self.unreadable[:3])}{'; ...' if len(self.unreadable) > 3 else ''})")
        if self.failed:
            out.append(f"the model failed on {len(self.failed)} sample(s), skipped "
                       f"({'; '.join(self.failed[:3])}{'; ...' if len(self.failed) > 3 else ''})")
        if self.empty:
            out.append(f"{self.empty} sample(s) got {empty_what} and stay unlabeled")
        if self.refused:
            out.append(f"{self.refused} prediction(s) not written: refused by the type's check "
                       f"({self.first_refusal}) or labeled meanwhile")
        return out


def _short(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).splitlines()[0][:150]}" if str(e) else type(e).__name__


def model_name(ctx: RunContext) -> str:
    return f"{ctx.model.ref} ({ctx.run.kind} run {ctx.run.id})"


def hard_below(ctx: RunContext) -> float:
    return float(ctx.options.get("hard_below", HARD_BELOW))


def probabilities(logits, config) -> Any:
    """Softmax, or sigmoid for a multi-label model (each label scored on its own)."""
    import torch

    logits = logits.float()
    if getattr(config, "problem_type", None) == "multi_label_classification":
        return torch.sigmoid(logits)
    return torch.softmax(logits, dim=-1)


def predict_each_on_failure(predict: Callable[[list], list], items: list, names: list[str],
                            tally: Tally) -> list:
    """Run a batch; if the batch fails, run its items one by one so one bad item costs only
    itself. Failed items come back as None."""
    if not items:
        return []
    try:
        return list(predict(items))
    except Exception as e:
        if len(items) == 1:
            tally.failed.append(f"{names[0]}: {_short(e)}")
            log.warning("model failed on %s: %s", names[0], e)
            return [None]
        out = []
        for item, name in zip(items, names):
            out.extend(predict_each_on_failure(predict, [item], [name], tally))
        return out


def sample_name(s: RunSample) -> str:
    meta = s.meta or {}
    return str(meta.get("path") or meta.get("name") or f"sample {s.sample_id}")[:80]


def read_audio(ctx: RunContext, sample_id: int, rate: int) -> np.ndarray:
    """The sample's audio as mono float32 at `rate` Hz."""
    with ctx.open_audio(sample_id) as f:
        x = f.read(dtype="float32", always_2d=True)
        sr = int(f.samplerate)
    x = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
    if sr != rate and len(x):
        from scipy.signal import resample_poly

        g = gcd(sr, int(rate))
        x = resample_poly(x, int(rate) // g, sr // g).astype(np.float32)
    return np.ascontiguousarray(x, dtype=np.float32)


def feature_rate(processor) -> int:
    fe = getattr(processor, "feature_extractor", processor)
    return int(getattr(fe, "sampling_rate", None) or 16000)


# -- the loop every task shares ------------------------------------------------------------------

class Predictor(ABC):
    """One task: read a sample, predict a batch, turn one output into a Prediction (or None)."""
    empty_what = "no prediction"

    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.device = F.device_for(ctx.device)
        self.labels = LabelMatcher(ctx.job.label_set.names())
        self.hard_below = hard_below(ctx)

    @abstractmethod
    def read(self, s: RunSample):
        """The model's input for one sample (an image, a text, a waveform)."""

    @abstractmethod
    def predict(self, items: list) -> list:
        """The model's outputs for a batch of inputs, in order."""

    @abstractmethod
    def to_prediction(self, s: RunSample, item, out, tally: Tally) -> Prediction | None:
        """One output as an annotation of the job's type (None: nothing to propose)."""

    def extra_message(self) -> str:
        return ""

    def flagged(self, sample_id: int, data: dict, confidence: float, reason: str) -> Prediction:
        confidence = float(min(1.0, max(0.0, confidence)))
        hard = confidence < self.hard_below
        return Prediction(sample_id, data, confidence, hard=hard, hard_coefficient=1 - confidence if hard else None,
                          hard_reason=reason if hard else None)


@dataclass
class ChunkPredictions:
    """What a worker made of one chunk: the predictions to write and what it skipped."""
    samples: int
    predictions: list[Prediction]
    tally: Tally
    outside: Counter  # model labels outside the label set, for the run's message
    extra: str = ""


class PredictChunks:
    """The work of pre-labeling on an engine's worker (autolabel/engine.py map_chunks): the
    Predictor, made once, reads, predicts and turns outputs into Predictions chunk by chunk; the
    app writes them. The same code on both engines, so the same predictions."""

    def __init__(self, ctx: RunContext, make: Callable[[RunContext], Predictor]):
        self.predictor = make(ctx)

    def __call__(self, chunk: list[RunSample]) -> ChunkPredictions:
        predictor, tally = self.predictor, Tally()
        items, ok = [], []
        for s in chunk:
            try:
                items.append(predictor.read(s))
                ok.append(s)
            except Exception as e:  # a broken file never fails the run (F4.2)
                tally.unreadable.append(f"{sample_name(s)}: {_short(e)}")
                log.warning("pre-labeling skipped %s: %s", sample_name(s), e)
        outputs = predict_each_on_failure(predictor.predict, items, [sample_name(s) for s in ok], tally)
        batch = []
        for s, item, out in zip(ok, items, outputs):
            if out is None:
                continue
            p = predictor.to_prediction(s, item, out, tally)
            if p is None:
                tally.empty += 1
            else:
                batch.append(p)
        outside = Counter(predictor.labels.outside)
        predictor.labels.outside.clear()
        return ChunkPredictions(len(chunk), batch, tally, outside, predictor.extra_message())


def prelabel_run(ctx: RunContext, make: Callable[[RunContext], Predictor], what: str) -> Outcome:
    samples = [s for s in run_samples(ctx.store, ctx.job.id) if not s.labeled]
    total = len(samples)
    ctx.progress(0, total, f"loading model {ctx.model.ref}{engine.where(ctx)}")
    tally = Tally()
    labels = LabelMatcher(ctx.job.label_set.names())  # the workers' unmatched labels, for the message
    extra = ""
    written = hard = done = 0
    name = model_name(ctx)
    chunks = list(F.batched(samples, max(1, ctx.batch_size)))
    for _i, part in engine.map_chunks(ctx, PredictChunks, chunks, make):
        tally.add(part.tally)
        labels.outside.update(part.outside)
        extra = part.extra or extra
        new, new_hard = tally.write(ctx, part.predictions, name)
        written, hard = written + new, hard + new_hard
        done += part.samples
        ctx.progress(done, total, f"{written} of {total} pre-labeled")
    parts = [f"pre-labeling ({what}) with {ctx.model.ref}{engine.where(ctx)}: {written} of {total} samples to "
             f"To Be Confirmed, {hard} hard examples (confidence below {hard_below(ctx):g})"]
    parts += [m for m in (labels.message(), extra) if m]
    parts += tally.lines(getattr(make, "empty_what", Predictor.empty_what))
    return Outcome(written, hard, "; ".join(parts))


# -- classification: images, text, sound -------------------------------------------------------

class Classifier(Predictor):
    """Top label of a sequence/image/audio classifier."""

    def top(self, s: RunSample, probs) -> Prediction | None:
        order = np.argsort(-probs)
        id2label = self.model.config.id2label
        best = int(order[0])
        label = self.labels(id2label.get(best, str(best)))
        if label is None:
            return None
        conf = float(probs[best])
        reason = f"low confidence: {label!r} {conf:.2f}"
        if len(order) > 1:
            second = int(order[1])
            reason += f", next {id2label.get(second, str(second))!r} {float(probs[second]):.2f}"
        return self.flagged(s.sample_id, {"labels": [label]}, conf, reason)

    def to_prediction(self, s, item, out, tally):
        return self.top(s, out)

    def run_model(self, inputs) -> list:
        import torch

        inputs = {k: v.to(self.device) for k, v in inputs.items() if hasattr(v, "to")}
        with torch.inference_mode():
            logits = self.model(**inputs).logits
        return list(probabilities(logits, self.model.config).cpu().numpy())


class ImageClassifier(Classifier):
    def __init__(self, ctx):
        super().__init__(ctx)
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        self.processor = AutoImageProcessor.from_pretrained(ctx.model.source)
        self.model = AutoModelForImageClassification.from_pretrained(ctx.model.source).to(self.device).eval()

    def read(self, s):
        return F.load_image(self.ctx.sample_bytes(s.sample_id))

    def predict(self, items):
        return self.run_model(self.processor(images=items, return_tensors="pt"))


def max_text_length(tokenizer, config) -> int:
    limits = [n for n in (getattr(tokenizer, "model_max_length", None),
                          getattr(config, "max_position_embeddings", None))
              if isinstance(n, int) and 0 < n < 100_000]
    return min(limits + [512])


class TextClassifier(Classifier):
    def __init__(self, ctx):
        super().__init__(ctx)
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(ctx.model.source)
        self.model = AutoModelForSequenceClassification.from_pretrained(ctx.model.source).to(self.device).eval()
        self.max_length = max_text_length(self.tokenizer, self.model.config)

    def read(self, s):
        return s.text if s.text is not None else self.ctx.sample_bytes(s.sample_id).decode("utf-8")

    def predict(self, items):
        return self.run_model(self.tokenizer(items, padding=True, truncation=True, max_length=self.max_length,
                                             return_tensors="pt"))


def zero_shot_labels(ctx: RunContext, least: int = 2) -> list[str]:
    """The job's label names, the prompts of a zero-shot model: a classifier chooses between at
    least 2, a detector looks for at least 1."""
    names = ctx.job.label_set.names()
    if len(names) < least:
        what = "classification" if least > 1 else "object detection"
        raise ValidationError(f"zero-shot {what} needs at least {least} label{'s' if least > 1 else ''} "
                              "in the job's label set")
    return names


def top_label(predictor: Predictor, sample_id: int, names: list[str], scores) -> Prediction | None:
    """The best of the job's label names by score (the scores over them sum to 1), with the next
    one named in the hard-example reason."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64))
    best = int(order[0])
    label = predictor.labels(names[best])
    if label is None:
        return None
    conf = float(scores[best])
    reason = f"low confidence: {label!r} {conf:.2f}"
    if len(order) > 1:
        reason += f", next {names[int(order[1])]!r} {float(scores[int(order[1])]):.2f}"
    return predictor.flagged(sample_id, {"labels": [label]}, conf, reason)


class ZeroShotTextClassifier(Predictor):
    """Zero-shot text classification with an NLI model (transformers' zero-shot-classification
    pipeline): for each label of the job, does the text entail "This example is <label>."? The
    label the model finds most entailed, with its share of the entailment scores as the
    confidence. Needs no labeled data: the job's label names are the prompts."""
    TEMPLATE = "This example is {}."

    def __init__(self, ctx):
        super().__init__(ctx)
        from transformers import pipeline

        self.names = zero_shot_labels(ctx)
        self.pipe = pipeline("zero-shot-classification", model=ctx.model.source, device=self.device)

    def read(self, s):
        return s.text if s.text is not None else self.ctx.sample_bytes(s.sample_id).decode("utf-8")

    def predict(self, items):
        out = self.pipe(list(items), candidate_labels=self.names, hypothesis_template=self.TEMPLATE,
                        multi_label=False, batch_size=max(1, self.ctx.batch_size))
        return out if isinstance(out, list) else [out]

    def to_prediction(self, s, item, out, tally):
        return top_label(self, s.sample_id, list(out["labels"]), list(out["scores"]))

    def extra_message(self) -> str:
        return f"zero-shot: each label asked as \"{self.TEMPLATE.format('<label>')}\""


class ZeroShotImageClassifier(Predictor):
    """Zero-shot image classification with a CLIP-style dual encoder (CLIP, SigLIP, ALIGN...: a
    model with logits_per_image): each of the job's labels becomes the prompt "a photo of a
    <label>."; the image's logits against the prompts, softmaxed over the job's labels, give the
    label and its probability as the confidence. Needs no labeled data."""
    TEMPLATE = "a photo of a {}."

    def __init__(self, ctx):
        super().__init__(ctx)
        from transformers import AutoModel, AutoProcessor

        self.names = zero_shot_labels(ctx)
        self.processor = AutoProcessor.from_pretrained(ctx.model.source)
        self.model = AutoModel.from_pretrained(ctx.model.source).to(self.device).eval()
        self.prompts = [self.TEMPLATE.format(n) for n in self.names]
        # SigLIP was trained on prompts padded to 64 tokens (as transformers' pipeline pads them)
        self.text_kwargs = ({"padding": "max_length", "max_length": 64, "truncation": True}
                            if self.model.config.model_type.startswith("siglip") else
                            {"padding": True, "truncation": True})

    def read(self, s):
        return F.load_image(self.ctx.sample_bytes(s.sample_id))

    def predict(self, items):
        import torch

        enc = self.processor(text=self.prompts, images=items, return_tensors="pt", **self.text_kwargs)
        inputs = {k: v.to(self.device) for k, v in model_inputs(self.model, enc).items()}
        with torch.inference_mode():
            logits = self.model(**inputs).logits_per_image.float()  # (images, labels)
        return list(torch.softmax(logits, dim=-1).cpu().numpy())

    def to_prediction(self, s, item, probs, tally):
        return top_label(self, s.sample_id, self.names, probs)

    def extra_message(self) -> str:
        return f"zero-shot: each label asked as \"{self.TEMPLATE.format('<label>')}\""


class SoundClassifier(Classifier):
    """Audio classification of (at most) the first 30 seconds of each file."""

    def __init__(self, ctx):
        super().__init__(ctx)
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

        self.processor = AutoFeatureExtractor.from_pretrained(ctx.model.source)
        self.model = AutoModelForAudioClassification.from_pretrained(ctx.model.source).to(self.device).eval()
        self.rate = feature_rate(self.processor)

    def read(self, s):
        x = read_audio(self.ctx, s.sample_id, self.rate)[: int(AUDIO_CHUNK_S * self.rate)]
        if not len(x):
            raise ValueError("the file holds no audio")
        return x

    def predict(self, items):
        kw = {"padding": True} if len({len(x) for x in items}) > 1 else {}
        try:
            inputs = self.processor(items, sampling_rate=self.rate, return_tensors="pt", **kw)
        except (TypeError, ValueError):
            inputs = self.processor(items, sampling_rate=self.rate, return_tensors="pt")
        return self.run_model(inputs)


# -- named entity recognition --------------------------------------------------------------------

def entity_type(group: str) -> str:
    for p in BIO_PREFIXES:
        if group.startswith(p):
            return group[len(p):]
    return group


class EntityTagger(Predictor):
    empty_what = "no entities"

    def __init__(self, ctx):
        super().__init__(ctx)
        from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

        tokenizer = AutoTokenizer.from_pretrained(ctx.model.source)
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(f"model {ctx.model.ref} has no fast tokenizer: entity offsets need one (tokenizer.json)")
        model = AutoModelForTokenClassification.from_pretrained(ctx.model.source)
        self.model = model
        limit = max_text_length(tokenizer, model.config)
        tokenizer.model_max_length = limit
        self.kwargs = {"stride": max(1, limit // 4)} if limit >= 16 else {}
        self.pipe = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="simple",
                             device=self.device)

    def read(self, s):
        return s.text if s.text is not None else self.ctx.sample_bytes(s.sample_id).decode("utf-8")

    def predict(self, items):
        if not items:
            return []
        out = self.pipe(list(items), batch_size=len(items), **self.kwargs)
        return [out] if items and out and isinstance(out[0], dict) else out

    def to_prediction(self, s, text, entities, tally):
        spans, scores = [], []
        taken: list[tuple[int, int]] = []
        for e in sorted(entities, key=lambda e: (int(e["start"]), int(e["end"]))):
            start, end = int(e["start"]), int(e["end"])
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end <= start or end > len(text):
                continue
            label = self.labels(entity_type(str(e.get("entity_group") or e.get("entity") or "")))
            if label is None:
                continue
            if taken and start < taken[-1][1]:  # overlapping windows (stride): keep the first
                continue
            taken.append((start, end))
            spans.append({"start": start, "end": end, "label": label})
            scores.append(float(e["score"]))
        if not spans:
            return None
        conf = min(scores)
        weakest = spans[int(np.argmin(scores))]
        return self.flagged(s.sample_id, {"spans": spans}, conf,
                            f"low confidence: {weakest['label']!r} span {text[weakest['start']:weakest['end']][:30]!r} "
                            f"{conf:.2f}")


# -- object detection ------------------------------------------------------------------------------

@dataclass
class Box:
    label_id: int
    score: float
    xyxy: tuple[float, float, float, float]


def load_detector(source: str, device: str, **kw):
    from transformers import AutoImageProcessor, AutoModelForObjectDetection

    processor = AutoImageProcessor.from_pretrained(source)
    model = AutoModelForObjectDetection.from_pretrained(source, **kw).to(device)
    return processor, model


def model_inputs(model, enc) -> dict:
    """The processor's tensors the model's forward takes (pixel_mask only where accepted)."""
    import inspect

    accepted = set(inspect.signature(model.forward).parameters)
    return {k: v for k, v in enc.items() if k in accepted and hasattr(v, "to")}


def detect(model, processor, images: list, threshold: float, device: str) -> list[list[Box]]:
    """Boxes scoring >= threshold per image, in the image's pixels (x1, y1, x2, y2)."""
    import torch

    model.eval()
    enc = processor(images=images, return_tensors="pt")
    inputs = {k: v.to(device) for k, v in model_inputs(model, enc).items()}
    with torch.inference_mode():
        out = model(**inputs)
    sizes = torch.tensor([[im.height, im.width] for im in images])
    results = processor.post_process_object_detection(out, threshold=threshold, target_sizes=sizes)
    return [[Box(int(lab), float(sc), tuple(float(v) for v in box))
             for sc, lab, box in zip(r["scores"].cpu(), r["labels"].cpu(), r["boxes"].cpu())] for r in results]


def iou(points: list[list[float]], box: tuple[float, float, float, float]) -> float:
    (a1, b1), (a2, b2) = points
    x1, y1, x2, y2 = box
    inter = max(0.0, min(a2, x2) - max(a1, x1)) * max(0.0, min(b2, y2) - max(b1, y1))
    union = (a2 - a1) * (b2 - b1) + (x2 - x1) * (y2 - y1) - inter
    return inter / union if union > 0 else 0.0


def rectangles(boxes: list[Box], id2label: dict, labels: LabelMatcher, width: float,
               height: float) -> list[tuple[dict, float]]:
    """Boxes as rectangle shapes clipped to the image, with their scores, best first; boxes whose
    label is outside the label set, that have no area inside the image, or that repeat a better
    box of the same label (IoU >= DUPLICATE_IOU) are dropped."""
    out = []
    for b in sorted(boxes, key=lambda b: -b.score):
        name = labels(id2label.get(b.label_id, str(b.label_id)))
        if name is None:
            continue
        x1, y1, x2, y2 = b.xyxy
        x1, x2 = sorted((min(max(x1, 0.0), width), min(max(x2, 0.0), width)))
        y1, y2 = sorted((min(max(y1, 0.0), height), min(max(y2, 0.0), height)))
        x1, y1, x2, y2 = (round(v, 2) for v in (x1, y1, x2, y2))
        if x2 - x1 < 0.01 or y2 - y1 < 0.01:
            continue
        if any(shape["label"] == name and iou(shape["points"], (x1, y1, x2, y2)) >= DUPLICATE_IOU
               for shape, _ in out):
            continue  # the same object twice (undertrained set predictors do that): keep the higher score
        out.append(({"id": f"p{len(out) + 1}", "type": "rectangle", "label": name, "points": [[x1, y1], [x2, y2]]},
                    b.score))
    return out


def detection_prediction(sample_id: int, boxes: list[Box], id2label: dict, labels: LabelMatcher,
                         size: tuple[float, float], threshold: float, hard_below_: float) -> Prediction | None:
    """Rectangles for the boxes >= threshold; confidence = their mean score. Hard: a kept box
    below `hard_below_`, or a near miss (a box between threshold/2 and threshold)."""
    kept = rectangles([b for b in boxes if b.score >= threshold], id2label, labels, *size)
    if not kept:
        return None
    near = [b.score for b in boxes if threshold / 2 <= b.score < threshold]
    scores = [sc for _, sc in kept]
    conf = float(np.mean(scores))
    low = min(scores)
    reasons, coef = [], 0.0
    if low < hard_below_:
        reasons.append(f"a box scores {low:.2f}")
        coef = max(coef, 1 - low)
    if near:
        best = max(near)
        reasons.append(f"{len(near)} near miss(es) below the threshold {threshold:g} (best {best:.2f})")
        coef = max(coef, best / max(threshold, 1e-6) * 0.5)
    hard = bool(reasons)
    return Prediction(sample_id, {"shapes": [shape for shape, _ in kept]}, min(1.0, max(0.0, conf)), hard=hard,
                      hard_coefficient=coef if hard else None,
                      hard_reason=("uncertain boxes: " + "; ".join(reasons)) if hard else None)


class Detector(Predictor):
    empty_what = "no box above the score threshold"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.threshold = float(ctx.options.get("score_threshold", SCORE_THRESHOLD))
        self.processor, self.model = load_detector(ctx.model.source, self.device)

    def read(self, s):
        image = F.load_image(self.ctx.sample_bytes(s.sample_id))
        return image, image_size({}, s.meta) or (float(image.width), float(image.height))

    def predict(self, items):
        return detect(self.model, self.processor, [im for im, _ in items], self.threshold / 2, self.device)

    def to_prediction(self, s, item, boxes, tally):
        return detection_prediction(s.sample_id, boxes, self.model.config.id2label, self.labels, item[1],
                                    self.threshold, self.hard_below)


class ZeroShotDetector(Predictor):
    """Open-vocabulary detection (OWL-ViT, OWLv2) prompted with the job's label names as text
    queries "a photo of a <label>": each box takes the query it matches best (the processor's
    post-processing), boxes then go through the same rectangles, threshold and hard-example
    rules as Detector's. OWL-ViT's scores are per-query sigmoids, lower than a closed-set
    detector's: the `score_threshold` option defaults to 0.1 here (transformers' own default)."""
    empty_what = "no box above the score threshold"
    TEMPLATE = "a photo of a {}"
    THRESHOLD = 0.1

    def __init__(self, ctx):
        super().__init__(ctx)
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

        self.names = zero_shot_labels(ctx, least=1)
        self.threshold = float(ctx.options.get("score_threshold", self.THRESHOLD))
        self.processor = AutoProcessor.from_pretrained(ctx.model.source)
        self.model = AutoModelForZeroShotObjectDetection.from_pretrained(ctx.model.source).to(self.device).eval()
        self.queries = [self.TEMPLATE.format(n) for n in self.names]
        self.id2label = dict(enumerate(self.names))
        # OWLv2 pads an image to a square before resizing it: its boxes are relative to that square
        self.square = self.model.config.model_type == "owlv2"

    def read(self, s):
        image = F.load_image(self.ctx.sample_bytes(s.sample_id))
        return image, image_size({}, s.meta) or (float(image.width), float(image.height))

    def predict(self, items):
        import torch

        images = [im for im, _ in items]
        enc = self.processor(text=[self.queries] * len(images), images=images, return_tensors="pt", truncation=True)
        inputs = {k: v.to(self.device) for k, v in model_inputs(self.model, enc).items()}
        with torch.inference_mode():
            out = self.model(**inputs)
        sizes = [(max(im.height, im.width),) * 2 if self.square else (im.height, im.width) for im in images]
        results = self.processor.post_process_grounded_object_detection(out, threshold=self.threshold / 2,
                                                                        target_sizes=sizes)
        return [[Box(int(lab), float(sc), tuple(float(v) for v in box))
                 for sc, lab, box in zip(r["scores"].cpu(), r["labels"].cpu(), r["boxes"].cpu())] for r in results]

    def to_prediction(self, s, item, boxes, tally):
        return detection_prediction(s.sample_id, boxes, self.id2label, self.labels, item[1], self.threshold,
                                    self.hard_below)

    def extra_message(self) -> str:
        return (f"zero-shot: each label asked as \"{self.TEMPLATE.format('<label>')}\", "
                f"boxes scoring >= {self.threshold:g}")


# -- speech recognition ----------------------------------------------------------------------------

class SpeechRecognizer(Predictor):
    empty_what = "an empty transcript"

    def __init__(self, ctx):
        super().__init__(ctx)
        from transformers import AutoConfig, AutoProcessor

        config = AutoConfig.from_pretrained(ctx.model.source)
        self.processor = AutoProcessor.from_pretrained(ctx.model.source)
        self.ctc = any(a.endswith("ForCTC") for a in (config.architectures or []))
        if self.ctc:
            from transformers import AutoModelForCTC as Auto
        else:
            from transformers import AutoModelForSpeechSeq2Seq as Auto
        self.model = Auto.from_pretrained(ctx.model.source).to(self.device).eval()
        self.rate = feature_rate(self.processor)

    def read(self, s):
        x = read_audio(self.ctx, s.sample_id, self.rate)
        if not len(x):
            raise ValueError("the file holds no audio")
        step = int(AUDIO_CHUNK_S * self.rate)
        chunks = [x[i:i + step] for i in range(0, len(x), step)]
        if len(chunks) > 1 and len(chunks[-1]) < self.rate // 10:  # a sliver: onto the previous chunk
            chunks[-2] = np.concatenate([chunks[-2], chunks.pop()])
        return chunks

    def predict(self, items):
        flat = [c for chunks in items for c in chunks]
        results = []
        for i in range(0, len(flat), max(1, self.ctx.batch_size)):
            part = flat[i:i + max(1, self.ctx.batch_size)]
            results += self._ctc(part) if self.ctc else self._seq2seq(part)
        out, k = [], 0
        for chunks in items:  # (text, sum of frame confidences, frame count) per chunk -> per sample
            mine = results[k:k + len(chunks)]
            k += len(chunks)
            text = " ".join(t for t, _, _ in mine if t)
            n = sum(c for _, _, c in mine)
            out.append((text, (sum(s for _, s, _ in mine) / n) if n else 0.0))
        return out

    def _ctc(self, audio: list[np.ndarray]) -> list[tuple[str, float, int]]:
        import torch

        enc = self.processor(audio, sampling_rate=self.rate, padding=True, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in enc.items() if k in ("input_values", "input_features",
                                                                           "attention_mask")}
        with torch.inference_mode():
            logits = self.model(**inputs).logits.float()
        probs = torch.softmax(logits, dim=-1).cpu()
        lengths = self.model._get_feat_extract_output_lengths(torch.tensor([len(a) for a in audio])).tolist() \
            if hasattr(self.model, "_get_feat_extract_output_lengths") else [probs.shape[1]] * len(audio)
        tokenizer = getattr(self.processor, "tokenizer", self.processor)
        blank = self.model.config.pad_token_id
        if blank is None:
            blank = getattr(tokenizer, "pad_token_id", 0)
        out = []
        for p, n in zip(probs, lengths):
            p = p[: max(1, int(n))]
            best, ids = p.max(dim=-1)
            voiced = ids != blank
            text = tokenizer.decode(ids.tolist()).strip()
            out.append((text, float(best[voiced].sum()), int(voiced.sum())))
        return out

    def _seq2seq(self, audio: list[np.ndarray]) -> list[tuple[str, float, int]]:
        import torch

        enc = self.processor(audio, sampling_rate=self.rate, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in enc.items() if hasattr(v, "to")}
        with torch.inference_mode():
            gen = self.model.generate(**inputs, return_dict_in_generate=True, output_scores=True)
        logp = self.model.compute_transition_scores(gen.sequences, gen.scores, normalize_logits=True).float().cpu()
        seqs = gen.sequences[:, -logp.shape[1]:].cpu()
        tokenizer = getattr(self.processor, "tokenizer", self.processor)
        special = set(getattr(tokenizer, "all_special_ids", []) or [])
        out = []
        for seq, lp in zip(seqs, logp):
            mask = torch.tensor([int(t) not in special for t in seq]) & torch.isfinite(lp)
            text = tokenizer.decode(seq.tolist(), skip_special_tokens=True).strip()
            n = int(mask.sum())
            # the geometric mean token probability, counted as n "frames" for the weighting
            out.append((text, float(torch.exp(lp[mask].mean())) * n if n else 0.0, n))
        return out

    def to_prediction(self, s, item, out, tally):
        text, conf = out
        if not text.strip():
            return None
        text = "".join(c for c in text if ord(c) >= 32 or c in "\t\n\r")
        return self.flagged(s.sample_id, {"content": text}, conf, f"low confidence transcript {conf:.2f}")


# -- registration ----------------------------------------------------------------------------------

# The predictor of each labeling type with the "prelabel" kind; the pipeline task it runs is the
# type's prelabel_task (store/types/). tests/test_registry.py fails for a type with no predictor.
PREDICTORS: dict[str, type[Predictor]] = {
    "image_classification": ImageClassifier,
    "object_detection": Detector,
    "text_classification": TextClassifier,
    "named_entity_recognition": EntityTagger,
    "speech_labeling": SpeechRecognizer,
    "sound_classification": SoundClassifier,
}
# Zero-shot predictors (no labeled data: the job's label names are the prompts), for the types
# with a zero_shot_task: a registered model of that task pre-labels through them.
ZERO_SHOT: dict[str, type[Predictor]] = {
    "image_classification": ZeroShotImageClassifier,
    "object_detection": ZeroShotDetector,
    "text_classification": ZeroShotTextClassifier,
}
_TASKS = {t.id: {t.prelabel_task: PREDICTORS[t.id],
                 **({t.zero_shot_task: ZERO_SHOT[t.id]} if t.zero_shot_task else {})}
          for t in REGISTRY.values() if "prelabel" in t.autolabel_kinds and t.id in PREDICTORS}


def _register(type_id: str, predictors: dict[str, type[Predictor]]) -> None:
    def run(ctx: RunContext) -> Outcome:
        task = ctx.model.task if ctx.model.task in predictors else next(iter(predictors))
        return prelabel_run(ctx, predictors[task], task)

    run.__name__ = f"prelabel_{type_id}"
    handler(type_id, "prelabel", tasks=tuple(predictors), model_required=True)(run)


for _type, _predictors in _TASKS.items():
    _register(_type, _predictors)
