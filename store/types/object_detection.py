"""Object detection: labeled rectangles, polygons, circles, lines, dashed lines, points (F3.2)."""
from __future__ import annotations

from ..labelset import LabelRules, LabelSet
from .base import IMAGE_EXTENSIONS, Annotation, LabelingType
from .shapes import SHAPE_TYPES, relabel_shapes, shape_label_names, validate_shapes


def validate(data: dict, label_set: LabelSet, meta: dict | None = None) -> Annotation:
    return validate_shapes(data, label_set, meta, SHAPE_TYPES)


TYPE = LabelingType(
    id="object_detection", order=1, title="Object detection", scene="images", media="image",
    rules=LabelRules(colors=True, attributes=True), team_labeling=True, auto_labeling=True,
    formats=("manifest", "voc", "coco", "yolo", "cvat", "label_studio", "parquet"), validate=validate, relabel=relabel_shapes, label_names=shape_label_names,
    page="pages.shapes", extensions=IMAGE_EXTENSIONS,
    description="Rectangles, polygons, circles, lines, dashed lines and points with labels.",
    widget="shapes", tools=("rectangle", "polygon", "circle", "line", "dashed_line", "point"),
    shape_types=SHAPE_TYPES, autolabel_kinds=("active_learning", "prelabel", "grouping"),
    model_tasks=("object-detection", "zero-shot-object-detection"), prelabel_task="object-detection",
    zero_shot_task="zero-shot-object-detection", active_learning_needs="annotated_samples",
    task_categories=("object-detection",))
