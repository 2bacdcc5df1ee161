"""Sound classification: one or more class labels per audio file, each label with a unique
single-key shortcut (SPEC F1.2, F3.8).

An annotation is {"labels": [name, ...]}: names from the label set, no duplicates, order kept.
relabel is None: renaming and deleting labels everywhere is done in SQL (store/annotations.py).
Samples carry meta {"duration", "sample_rate", "channels", "format"} from the import."""
from __future__ import annotations

from ..errors import ValidationError
from ..labelset import LabelRules, LabelSet
from .base import AUDIO_EXTENSIONS, Annotation, LabelingType


def validate(data: dict, label_set: LabelSet, meta: dict | None = None) -> Annotation:
    names = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValidationError('a sound classification annotation is {"labels": [names]}')
    known = set(label_set.names())
    unique = list(dict.fromkeys(names))
    for n in unique:
        if n not in known:
            raise ValidationError(f"label {n[:80]!r} is not in this job's label set")
    return Annotation({"labels": unique}, unique)


TYPE = LabelingType(
    id="sound_classification", order=6, title="Sound classification", scene="audio", media="audio",
    rules=LabelRules(shortcuts=True, colors=True), auto_labeling=True,
    formats=("manifest", "csv", "jsonl", "label_studio", "parquet"), validate=validate,
    validate_reads_meta=False, extensions=AUDIO_EXTENSIONS,
    description="Class labels per audio file, with shortcut keys.", page="pages.checklist",
    widget="grid", autolabel_kinds=("active_learning", "prelabel", "grouping"),
    model_tasks=("audio-classification",), prelabel_task="audio-classification",
    task_categories=("audio-classification",))
