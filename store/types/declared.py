"""The labeling types whose label sets, media and capabilities are declared (so jobs of any type
can be created, SPEC F1.1/F1.2) while their labeling pages are built in later steps."""
from __future__ import annotations

from ..labelset import LabelRules
from .base import VIDEO_EXTENSIONS, LabelingType

VIDEO_LABELING = LabelingType(
    id="video_labeling", title="Video labeling", scene="video", media="video",
    rules=LabelRules(colors=True, attributes=True), formats=("manifest", "parquet"),
    extensions=VIDEO_EXTENSIONS, description="Shapes on frames of MP4 videos.")

TYPES = (VIDEO_LABELING,)
