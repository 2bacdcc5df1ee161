"""The model registry (F4.3): a Hugging Face model id or a local folder, with a version; the task
is read from the model's own config (never guessed from its name) and checked against the job
type when a run uses it. Nothing is downloaded unless the model is already in the local cache or
the machine may reach the hub (HF_HUB_OFFLINE unset)."""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from store import Store
from store.errors import ValidationError
from store.models import ModelRecord, add_model

log = logging.getLogger(__name__)

# The end of a transformers architecture name -> the task it performs.
_SUFFIX_TASKS = (
    ("ForImageClassification", "image-classification"),
    ("ForImageClassificationWithTeacher", "image-classification"),
    ("ForObjectDetection", "object-detection"),
    ("ForTokenClassification", "token-classification"),
    ("ForSequenceClassification", "text-classification"),
    ("ForAudioClassification", "audio-classification"),
    ("ForCTC", "automatic-speech-recognition"),
    ("ForSpeechSeq2Seq", "automatic-speech-recognition"),
    ("ForConditionalGeneration", "automatic-speech-recognition"),  # whisper, speech2text; checked below
    ("Model", "embedding"),
)
# Models whose config names them, not their architecture's suffix (a CLIPModel ends in "Model" like
# a backbone; an OwlViTForObjectDetection in "ForObjectDetection" like DETR):
# image-text dual encoders with logits_per_image (zero-shot image classification, autolabel/prelabel.py),
ZERO_SHOT_IMAGE_MODELS = ("clip", "siglip", "siglip2", "align", "altclip", "chinese_clip", "metaclip_2")
# open-vocabulary detectors prompted with text queries (zero-shot object detection),
ZERO_SHOT_DETECTORS = ("owlvit", "owlv2")
# Segment Anything (the segmentation tools: media/sam.py).
SAM_MODELS = ("sam",)
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95})?")
_SPEECH_MODELS = ("whisper", "speech_to_text", "speech-encoder-decoder", "moonshine")


def inspect_model(source: str) -> tuple[str, list[str]]:
    """(task, label names) of a model folder or Hugging Face id, from its config."""
    source = (source or "").strip()
    if not source:
        raise ValidationError("give a Hugging Face model id or a local folder")
    folder = Path(source).expanduser()
    if not folder.exists() and not _HUB_ID.fullmatch(source):
        raise ValidationError(f"{source[:200]!r} is neither a local folder nor a Hugging Face model id (owner/name)")
    if folder.is_dir() and (folder / "modules.json").is_file():
        return "embedding", []  # a sentence-transformers model
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(source)
    except Exception as e:
        where = "folder" if folder.exists() else "model id"
        raise ValidationError(f"cannot read a transformers config from {where} {source!r}: "
                              f"{str(e).splitlines()[0][:300]}") from None
    archs = list(getattr(config, "architectures", None) or [])
    task = _task_by_model_type(source, config, archs)
    if task is not None:
        return task, []  # the job's label names are the prompts (or, for SAM, there are none)
    for arch in archs:
        for suffix, t in _SUFFIX_TASKS:
            if arch.endswith(suffix):
                if suffix == "ForConditionalGeneration" and config.model_type not in _SPEECH_MODELS:
                    continue
                if suffix == "ForSequenceClassification" and _is_audio_classifier(config.model_type):
                    t = "audio-classification"  # wav2vec2, HuBERT, WavLM... classify sounds
                task = t
                break
        if task:
            break
    if task is None:
        raise ValidationError(f"model {source!r} ({', '.join(archs) or config.model_type}) does none of the tasks "
                              "auto labeling uses (image/audio/text/token classification, object detection, "
                              "speech recognition, zero-shot text classification (NLI), zero-shot image "
                              "classification (CLIP-style), zero-shot object detection (OWL-ViT), SAM for the "
                              "segmentation tools, or a backbone for embeddings)")
    if task == "text-classification" and _is_nli(config):
        task = "zero-shot-classification"  # an NLI model: it labels with any label names given
    labels = []
    if task in ("image-classification", "object-detection", "token-classification", "text-classification",
                "audio-classification", "zero-shot-classification"):
        id2label = getattr(config, "id2label", None) or {}
        labels = [str(id2label[k]) for k in sorted(id2label, key=lambda k: int(k))]
    return task, labels


def _task_by_model_type(source: str, config, archs: list[str]) -> str | None:
    """The task of a zero-shot image model or of SAM, read from the config's model_type; None for
    the others. A model of a kind transformers has for these tasks that the app does not run yet
    is refused by name, rather than registered as something it is not."""
    from transformers.models.auto.modeling_auto import (MODEL_FOR_MASK_GENERATION_MAPPING_NAMES,
                                                        MODEL_FOR_ZERO_SHOT_OBJECT_DETECTION_MAPPING_NAMES)

    kind = config.model_type
    if kind in ZERO_SHOT_IMAGE_MODELS and not any(a.endswith(("VisionModel", "TextModel", "ForImageClassification"))
                                                  for a in archs):
        return "zero-shot-image-classification"
    if kind in ZERO_SHOT_DETECTORS:
        return "zero-shot-object-detection"
    if kind in SAM_MODELS:
        return "mask-generation"
    what = archs[0] if archs else kind
    if kind in MODEL_FOR_ZERO_SHOT_OBJECT_DETECTION_MAPPING_NAMES:
        raise ValidationError(f"model {source!r} ({what}) is an open-vocabulary detector the app does not run yet: "
                              "zero-shot object detection takes OWL-ViT or OWLv2")
    if kind in MODEL_FOR_MASK_GENERATION_MAPPING_NAMES:
        raise ValidationError(f"model {source!r} ({what}) is a segmentation model the app does not run yet: "
                              "the segmentation tools take SAM (SamModel)")
    return None


def _is_nli(config) -> bool:
    """A natural-language-inference classifier: one of its labels is "entailment"."""
    names = {str(v).casefold() for v in (getattr(config, "id2label", None) or {}).values()}
    return "entailment" in names


def _is_audio_classifier(model_type: str) -> bool:
    from transformers.models.auto.modeling_auto import MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES

    return model_type in MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES


def register_model(store: Store, source: str, version: str = "1", name: str | None = None,
                   actor: str | None = None) -> ModelRecord:
    """Read the model's task and labels, then record it. Registering reads a server folder or the
    hub with the server's rights: an admin's action (store/access.py), asked before anything is
    read so that a refusal tells nothing about the server's folders."""
    from store.access import require_admin

    require_admin(store, actor, "registering a model")
    task, labels = inspect_model(source)
    folder = Path(source).expanduser()
    if folder.is_dir():
        source = str(folder.resolve())
    return add_model(store, name or "", source, version, task, labels, actor)


def describe(record: ModelRecord) -> str:
    labels = f", {len(record.labels)} labels" if record.labels else ""
    return f"{record.ref} · {record.task}{labels} · {record.source}"


def as_json(record: ModelRecord) -> str:
    return json.dumps(record.as_dict())
