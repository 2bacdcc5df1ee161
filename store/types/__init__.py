"""The registry of labeling types: REGISTRY[type_id] -> LabelingType (one module per type)."""
from __future__ import annotations

from ..errors import ValidationError
from . import (image_classification, image_segmentation, named_entity_recognition, object_detection,
               sound_classification, speech_labeling, speech_paragraph, text_classification, text_triplet,
               video_labeling)
from .base import Annotation, LabelingType

_ORDER = ("image_classification", "object_detection", "image_segmentation", "text_classification",
          "named_entity_recognition", "text_triplet", "sound_classification", "speech_labeling",
          "speech_paragraph", "video_labeling")
_TYPES = {t.id: t for t in (image_classification.TYPE, object_detection.TYPE, image_segmentation.TYPE,
                            text_classification.TYPE, named_entity_recognition.TYPE, text_triplet.TYPE,
                            sound_classification.TYPE, speech_labeling.TYPE, speech_paragraph.TYPE,
                            video_labeling.TYPE)}
REGISTRY: dict[str, LabelingType] = {type_id: _TYPES[type_id] for type_id in _ORDER}

SCENES = {"images": "Images", "audio": "Audio", "text": "Text", "video": "Video"}


def get_type(type_id: str) -> LabelingType:
    try:
        return REGISTRY[type_id]
    except KeyError:
        raise ValidationError(
            f"unknown labeling type {type_id!r}; one of: {', '.join(REGISTRY)}") from None


__all__ = ["REGISTRY", "SCENES", "Annotation", "LabelingType", "get_type"]
