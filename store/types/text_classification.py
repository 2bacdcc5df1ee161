"""Text classification: one or more labels per text (SPEC F3.5).

An annotation is {"labels": [name, ...]}: names from the label set (any characters, colors in
the set), no duplicates, order kept. relabel is None: renaming and deleting labels everywhere is
done in SQL (store/annotations.py)."""
from __future__ import annotations

from ..errors import ValidationError
from ..labelset import LabelRules, LabelSet
from .base import TEXT_EXTENSIONS, Annotation, LabelingType


def validate(data: dict, label_set: LabelSet, meta: dict | None = None) -> Annotation:
    names = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValidationError('a text classification annotation is {"labels": [names]}')
    known = set(label_set.names())
    unique = list(dict.fromkeys(names))
    for n in unique:
        if n not in known:
            raise ValidationError(f"label {n[:80]!r} is not in this job's label set")
    return Annotation({"labels": unique}, unique)


TYPE = LabelingType(
    id="text_classification", order=3, title="Text classification", scene="text", media="text",
    rules=LabelRules(shortcuts=True, colors=True), team_labeling=True, auto_labeling=True,
    formats=("manifest", "csv", "jsonl", "label_studio", "parquet"), validate=validate,
    validate_reads_meta=False, extensions=TEXT_EXTENSIONS,
    page="pages.checklist", description="One or more labels per text, with shortcut keys.",
    widget="grid", autolabel_kinds=("active_learning", "prelabel", "grouping"),
    model_tasks=("text-classification", "zero-shot-classification", "embedding"),
    prelabel_task="text-classification", zero_shot_task="zero-shot-classification",
    task_categories=("text-classification",))
