"""Image classification: several class labels per image (SPEC F3.1)."""
from __future__ import annotations

from ..errors import ValidationError
from ..labelset import LabelRules, LabelSet
from .base import IMAGE_EXTENSIONS, Annotation, LabelingType

# label names become folder names (imagefolder): words only; colors and shortcut keys as every
# check-list type (pages/labeling/checklist.py)
RULES = LabelRules(name_pattern="word", colors=True, shortcuts=True)


def validate(data: dict, label_set: LabelSet, meta: dict | None = None) -> Annotation:
    """{"labels": [name, ...]}: names from the label set, no duplicates, order kept."""
    names = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValidationError('an image classification annotation is {"labels": [names]}')
    known = set(label_set.names())
    unique: list[str] = []
    for n in names:
        if n not in known:
            raise ValidationError(f"label {n[:80]!r} is not in this job's label set")
        if n not in unique:
            unique.append(n)
    return Annotation({"labels": unique}, unique)


TYPE = LabelingType(
    id="image_classification", order=0, title="Image classification", scene="images", media="image",
    rules=RULES, team_labeling=True, auto_labeling=True,
    formats=("imagefolder", "csv", "manifest", "label_studio", "parquet"), validate=validate,
    validate_reads_meta=False,
    page="pages.checklist", extensions=IMAGE_EXTENSIONS,
    description="One or more class labels per image, with shortcut keys.",
    widget="grid", autolabel_kinds=("active_learning", "prelabel", "grouping"),
    model_tasks=("image-classification", "zero-shot-image-classification", "embedding"),
    prelabel_task="image-classification", zero_shot_task="zero-shot-image-classification",
    task_categories=("image-classification",))
