"""Speech labeling: the transcript of each audio file (SPEC F3.9).

An annotation is {"content": "the transcript"} (kept exactly as typed; at most 100,000
characters). A sample with a non-empty transcript is labeled: its label list is the marker
["transcript"] (the store treats a sample without labels as unlabeled), so stats count
transcribed files under "transcript" and the label filter "transcript" finds them. An empty or
blank transcript returns the sample to Unlabeled. Label management has nothing to rename:
relabel leaves the transcript alone."""
from __future__ import annotations

from ..errors import ValidationError
from ..labelset import LabelRules, LabelSet
from .base import AUDIO_EXTENSIONS, Annotation, LabelingType

MARKER = "transcript"
MAX_CONTENT = 100_000


def validate(data: dict, label_set: LabelSet, meta: dict | None = None) -> Annotation:
    content = data.get("content") if isinstance(data, dict) else None
    if not isinstance(content, str):
        raise ValidationError('a speech labeling annotation is {"content": "the transcript"}')
    if len(content) > MAX_CONTENT:
        raise ValidationError(f"the transcript has {len(content):,} characters; the limit is {MAX_CONTENT:,}")
    if any(ord(c) < 32 and c not in "\t\n\r" for c in content):
        raise ValidationError("the transcript holds control characters")
    if not content.strip():
        return Annotation({"content": ""}, [])
    return Annotation({"content": content}, [MARKER])


def relabel(data: dict, old: str, new: str | None) -> dict:
    return data  # a transcript has no label names


def label_names(data: dict) -> list[str]:
    return [MARKER] if isinstance(data, dict) and str(data.get("content") or "").strip() else []


TYPE = LabelingType(
    id="speech_labeling", order=7, title="Speech labeling", scene="audio", media="audio",
    rules=LabelRules(), auto_labeling=True, formats=("manifest", "jsonl", "label_studio", "parquet"),
    validate=validate, validate_reads_meta=False, relabel=relabel, label_names=label_names,
    extensions=AUDIO_EXTENSIONS, description="A transcript per audio file.", page="pages.speech_labeling",
    widget="transcript", autolabel_kinds=("prelabel",), model_tasks=("automatic-speech-recognition",),
    prelabel_task="automatic-speech-recognition", task_categories=("automatic-speech-recognition",))
