"""What a labeling type declares, once: its rules, its media, its annotation check, its formats."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..labelset import LabelRules

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif")
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
VIDEO_EXTENSIONS = (".mp4",)
TEXT_EXTENSIONS = (".txt", ".csv", ".jsonl")


@dataclass(frozen=True)
class Annotation:
    """A validated annotation: the JSON payload and the label names it uses (for filters)."""
    data: dict
    labels: list[str]


@dataclass(frozen=True)
class LabelingType:
    id: str  # SPEC F8.1
    title: str
    scene: str  # images | audio | text | video
    media: str  # image | audio | text | video: what a sample of this type is
    rules: LabelRules
    team_labeling: bool = False
    auto_labeling: bool = False
    formats: tuple[str, ...] = ("manifest", "parquet")
    # Checks an annotation against the job's label set and the sample's meta (image width and
    # height, audio duration...); None while the type has no labeling page.
    validate: Callable[..., Annotation] | None = None
    # Renames (new) or drops (new=None) a label inside a structured annotation; None: the
    # annotation is just the label list (classification), done in SQL.
    relabel: Callable[[dict, str, str | None], dict] | None = None
    label_names: Callable[[dict], list[str]] | None = None  # labels an annotation uses
    page: str | None = None  # module under pages/ that labels this type
    description: str = ""
    extensions: tuple[str, ...] = field(default=())

    @property
    def available(self) -> bool:
        """True when the type can be labeled in the app (its page and annotation check exist)."""
        return self.validate is not None and self.page is not None
