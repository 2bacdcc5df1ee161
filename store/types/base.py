"""What a labeling type declares, once: its rules, its media, its annotation check, its formats,
its labeling widget and shape tools, its auto labeling (kinds, model tasks) and its dataset card."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..labelset import LabelRules

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif")
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
VIDEO_EXTENSIONS = (".mp4",)
# Files a person may expect a type to take that it does not: named as refused when a folder is
# scanned (never skipped silently), with the reason (issue 16).
REFUSED_EXTENSIONS = {"video": ((".avi", ".mov", ".mkv", ".webm", ".wmv", ".flv", ".mpg", ".mpeg", ".m4v",
                                 ".3gp", ".ts", ".mts", ".ogv"), "MP4 (H.264) is required")}
TEXT_EXTENSIONS = (".txt", ".csv", ".jsonl")
# The labeling widgets a type's page is built on (field `widget`).
WIDGETS = ("grid", "shapes", "spans", "transcript", "segments", "video")
# What active learning needs before it runs (F4.2; store/runs.py has the thresholds):
# "labels_per_class": MIN_CLASSES labels each on MIN_PER_CLASS labeled samples;
# "annotated_samples": MIN_DETECTION_IMAGES labeled samples with at least one label (detection).
ACTIVE_LEARNING_NEEDS = ("labels_per_class", "annotated_samples")


@dataclass(frozen=True)
class Annotation:
    """A validated annotation: the JSON payload and the label names it uses (for filters)."""
    data: dict
    labels: list[str]


@dataclass(frozen=True)
class LabelingType:
    id: str  # SPEC F8.1
    order: int  # position in REGISTRY (and in every list of types)
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
    # False when validate never reads the meta: a save then skips reading it (one statement less
    # on the hot path; tests/test_registry.py checks the function's code agrees)
    validate_reads_meta: bool = True
    # Renames (new) or drops (new=None) a label inside a structured annotation; None: the
    # annotation is just the label list (classification), done in SQL.
    relabel: Callable[[dict, str, str | None], dict] | None = None
    label_names: Callable[[dict], list[str]] | None = None  # labels an annotation uses
    page: str | None = None  # module under pages/ that labels this type
    description: str = ""
    extensions: tuple[str, ...] = field(default=())
    widget: str = ""  # one of WIDGETS: the labeling widget the type's page uses
    tools: tuple[str, ...] = ()  # shape drawing tools the page offers, the first the default
    shape_types: tuple[str, ...] = ()  # shape types an annotation may hold (store/types/shapes.py)
    # Auto labeling (when auto_labeling): the kinds offered (store/runs.py KINDS), the model tasks (transformers
    # pipeline tasks, "embedding": a backbone) its jobs may use, the task pre-labeling runs, and
    # what active learning needs first.
    autolabel_kinds: tuple[str, ...] = ()
    page_run_kinds: tuple[str, ...] = ()  # runs the labeling page starts on one sample (not in the Auto labeling panel)
    model_tasks: tuple[str, ...] = ()
    prelabel_task: str | None = None
    # the task of a model that pre-labels with the job's label names alone, no labeled data (one of
    # model_tasks; autolabel/prelabel.py ZERO_SHOT has its predictor)
    zero_shot_task: str | None = None
    # the tasks of models the labeling widget's tools use on the image shown, not runs (a type
    # without auto labeling may have them): "mask-generation", SAM, for the extreme-points outline
    # and click to segment (store/samples.py sample_outline, sample_segment; media/sam.py)
    tool_model_tasks: tuple[str, ...] = ()
    active_learning_needs: str = "labels_per_class"
    task_categories: tuple[str, ...] = ()  # Hugging Face task categories (the dataset card)

    @property
    def available(self) -> bool:
        """True when the type can be labeled in the app (its page and annotation check exist)."""
        return self.validate is not None and self.page is not None
