"""The labeling types whose label sets, media and capabilities are declared (so jobs of any type
can be created, SPEC F1.1/F1.2) while their labeling pages are built in later steps."""
from __future__ import annotations

from ..labelset import MAX_CLASS_NAME, LabelRules
from .base import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS, LabelingType

SOUND_CLASSIFICATION = LabelingType(
    id="sound_classification", title="Sound classification", scene="audio", media="audio",
    rules=LabelRules(shortcuts=True), auto_labeling=True,
    formats=("manifest", "csv", "jsonl", "parquet"), extensions=AUDIO_EXTENSIONS,
    description="Class labels per audio file, with shortcut keys.")

SPEECH_LABELING = LabelingType(
    id="speech_labeling", title="Speech labeling", scene="audio", media="audio",
    rules=LabelRules(), auto_labeling=True, formats=("manifest", "jsonl", "parquet"),
    extensions=AUDIO_EXTENSIONS, description="A transcript per audio file.")

SPEECH_PARAGRAPH = LabelingType(
    id="speech_paragraph", title="Speech paragraph labeling", scene="audio", media="audio",
    rules=LabelRules(name_pattern="class", colors=True, classes=True, max_name=MAX_CLASS_NAME),
    team_labeling=True, formats=("manifest", "jsonl", "parquet"), extensions=AUDIO_EXTENSIONS,
    description="Labeled time segments, optionally with their spoken content.")

VIDEO_LABELING = LabelingType(
    id="video_labeling", title="Video labeling", scene="video", media="video",
    rules=LabelRules(colors=True, attributes=True), formats=("manifest", "parquet"),
    extensions=VIDEO_EXTENSIONS, description="Shapes on frames of MP4 videos.")

TYPES = (SOUND_CLASSIFICATION, SPEECH_LABELING, SPEECH_PARAGRAPH, VIDEO_LABELING)
