"""The registry of labeling types: REGISTRY[type_id] -> LabelingType (one module per type)."""
from __future__ import annotations

from ..errors import ValidationError
from . import declared, image_classification
from .base import Annotation, LabelingType

REGISTRY: dict[str, LabelingType] = {t.id: t for t in (image_classification.TYPE, *declared.TYPES)}

SCENES = {"images": "Images", "audio": "Audio", "text": "Text", "video": "Video"}


def get_type(type_id: str) -> LabelingType:
    try:
        return REGISTRY[type_id]
    except KeyError:
        raise ValidationError(
            f"unknown labeling type {type_id!r}; one of: {', '.join(REGISTRY)}") from None


__all__ = ["REGISTRY", "SCENES", "Annotation", "LabelingType", "get_type"]
