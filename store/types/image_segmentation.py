"""Image segmentation: labeled polygons (drawn, or proposed from extreme points) (F3.3)."""
from __future__ import annotations

from ..labelset import LabelRules, LabelSet
from .base import IMAGE_EXTENSIONS, Annotation, LabelingType
from .shapes import relabel_shapes, shape_label_names, validate_shapes


SHAPES = ("polygon",)


def validate(data: dict, label_set: LabelSet, meta: dict | None = None) -> Annotation:
    return validate_shapes(data, label_set, meta, SHAPES)


TYPE = LabelingType(
    id="image_segmentation", order=2, title="Image segmentation", scene="images", media="image",
    rules=LabelRules(colors=True), formats=("manifest", "coco", "yolo", "cvat", "label_studio", "parquet"), validate=validate, relabel=relabel_shapes, label_names=shape_label_names,
    page="pages.shapes", extensions=IMAGE_EXTENSIONS,
    description="Polygons and extreme-point outlines.",
    widget="shapes", tools=("polygon", "extreme_points"), shape_types=SHAPES, tool_model_tasks=("mask-generation",),
    task_categories=("image-segmentation",))
